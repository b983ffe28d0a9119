//! Lexical path cleaning with Go's `filepath.Clean` rules (Unix separators).

/// Returns the shortest lexically equivalent path: repeated `/` collapsed, `.` removed,
/// `..` resolved against the previous element (at the root of an absolute path it is
/// dropped), trailing `/` removed. An empty result is `"."`.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Joins `rel` onto `/` and cleans it: the absolute form of a path inside a root.
pub fn clean_abs(rel: &str) -> String {
    clean(&format!("/{rel}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean_table() {
        let cases = [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/..", "."),
            ("abc/../..", ".."),
            ("/abc/../..", "/"),
            ("../../abc", "../../abc"),
            ("/../abc", "/abc"),
            ("**/", "**"),
            ("!foo/../bar", "bar"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn abs_form() {
        assert_eq!(clean_abs("a/../../b"), "/b");
        assert_eq!(clean_abs(""), "/");
    }
}
