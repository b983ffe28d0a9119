//! Go's `path` package (`Clean`, `Join`, `Base`), which BuildKit applies to Dockerfile paths.

/// Go's `path.Clean`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `path.Join`: joins the non-empty elements and cleans.
pub fn join(parts: &[&str]) -> String {
    let nonempty: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if nonempty.is_empty() {
        return String::new();
    }
    clean(&nonempty.join("/"))
}

/// Go's `path.Base`.
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_and_base_follow_go() {
        assert_eq!(clean("/a/b/../c/"), "/a/c");
        assert_eq!(clean("a/../.."), "..");
        assert_eq!(clean("/.."), "/");
        assert_eq!(clean(""), ".");
        assert_eq!(clean("cache//x/."), "cache/x");
        assert_eq!(base("/run/secrets/foo/"), "foo");
        assert_eq!(base("/"), "/");
        assert_eq!(join(&["/a", "", "b/../c"]), "/a/c");
    }
}
