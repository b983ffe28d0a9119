//! Go's `path` package rules and BuildKit's `system.NormalizePath` (Linux flavour).

pub use crate::gopath::{base, clean, join};

pub fn is_abs(p: &str) -> bool {
    p.starts_with('/')
}

/// `system.NormalizePath(parent, new, "linux", keep_slash)`: a relative `new` is joined to
/// `parent` (cleaned); an absolute one is kept as written. With `keep_slash`, a trailing
/// `/` or `/.` of `new` survives.
pub fn normalize_path(parent: &str, new: &str, keep_slash: bool) -> String {
    let mut parent = if parent.is_empty() {
        "/".to_string()
    } else {
        parent.to_string()
    };
    if !is_abs(&parent) {
        parent = join(&["/", &parent]);
    }
    let orig = new;
    let mut out = if new.is_empty() {
        parent.clone()
    } else {
        new.to_string()
    };
    if !is_abs(&out) {
        out = join(&[&parent, &out]);
    }
    if keep_slash {
        if orig.ends_with('/') && !out.ends_with('/') {
            out.push('/');
        } else if orig.ends_with("/.") {
            if out != "/" {
                out.push('/');
            }
            out.push('.');
        }
    }
    out
}

/// `pathRelativeToWorkingDir`: a COPY/ADD destination relative to the working directory.
pub fn relative_to_workdir(workdir: &str, p: &str) -> String {
    if is_abs(p) {
        return normalize_path("/", p, true);
    }
    let p = if p == "." || p.is_empty() { "./" } else { p };
    normalize_path(workdir, p, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_rules() {
        assert_eq!(clean("/a/b/../c/./d/"), "/a/c/d");
        assert_eq!(clean("../../x"), "../../x");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean(""), ".");
        assert_eq!(join(&["/", "app", "src"]), "/app/src");
        assert_eq!(join(&["", ""]), "");
        assert_eq!(base("/run/secrets/tok"), "tok");
        assert_eq!(base("/"), "/");
    }

    #[test]
    fn destinations() {
        assert_eq!(relative_to_workdir("/app", "."), "/app/");
        assert_eq!(
            relative_to_workdir("/app", "./node_modules"),
            "/app/node_modules"
        );
        assert_eq!(relative_to_workdir("/app", "dist/"), "/app/dist/");
        assert_eq!(
            relative_to_workdir("/", "/usr/local/bin/"),
            "/usr/local/bin/"
        );
        assert_eq!(relative_to_workdir("/app", "sub/."), "/app/sub/.");
        // As BuildKit: an absolute destination is not cleaned before the `/.` is kept.
        assert_eq!(relative_to_workdir("/app", "/x/."), "/x/./.");
        assert_eq!(normalize_path("/app", "../lib", false), "/lib");
    }
}
