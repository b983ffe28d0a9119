//! Shell-style wildcards for source paths, with Go's `filepath.Match` rules: `*` any run of
//! non-`/` characters, `?` one non-`/` character, `[...]` a class (`^` negates, `a-z`
//! ranges), `\` escapes. Used for `COPY`/`ADD`/`rm` sources and checksum selectors.

use crate::error::PatternError;

/// True if the path contains a wildcard character (`*`, `?`, `[`) or an escape.
pub fn has_wildcard(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// Splits `path` into the longest leading part without wildcards and the rest
/// (`/a/b*/c` → (`/a`, `b*/c`)). The rest is empty when there is no wildcard.
pub fn split_wildcards(path: &str) -> (String, String) {
    let mut fixed: Vec<&str> = Vec::new();
    let mut comps = path.split('/');
    let mut rest: Vec<&str> = Vec::new();
    for c in comps.by_ref() {
        if has_wildcard(c) {
            rest.push(c);
            break;
        }
        fixed.push(c);
    }
    rest.extend(comps);
    let fixed = fixed.join("/");
    let fixed = if fixed.is_empty() && path.starts_with('/') {
        "/".to_string()
    } else {
        fixed
    };
    (fixed, rest.join("/"))
}

/// Matches one path component `name` against one pattern component.
pub fn match_component(pattern: &str, name: &str) -> Result<bool, PatternError> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let bad = |reason: &str| PatternError::Malformed {
        pattern: pattern.to_string(),
        reason: reason.to_string(),
    };
    // Validate first so errors do not depend on the name.
    {
        let mut i = 0;
        while i < p.len() {
            match p.get(i) {
                Some('\\') => {
                    if i + 1 >= p.len() {
                        return Err(bad("trailing backslash"));
                    }
                    i += 2;
                }
                Some('[') => {
                    i = parse_class(&p, i, None).map_err(&bad)?.1;
                }
                _ => i += 1,
            }
        }
    }
    Ok(match_from(&p, 0, &n, 0))
}

fn match_from(p: &[char], mut pi: usize, n: &[char], mut ni: usize) -> bool {
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p.get(pi) {
                Some('*') => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                Some(&pc) if ni < n.len() => {
                    let nc = n.get(ni).copied().unwrap_or('\0');
                    let step = match pc {
                        '?' => (nc != '/').then_some(pi + 1),
                        '[' => match parse_class(p, pi, Some(nc)) {
                            Ok((true, next)) => Some(next),
                            _ => None,
                        },
                        '\\' => (p.get(pi + 1) == Some(&nc)).then_some(pi + 2),
                        c => (c == nc).then_some(pi + 1),
                    };
                    if let Some(next) = step {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                _ => {}
            }
        } else if ni == n.len() {
            return true;
        }
        // Backtrack: let the last `*` eat one more non-separator character.
        match star {
            Some((sp, sn)) if sn < n.len() && n.get(sn) != Some(&'/') => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
}

/// Parses the class starting at `p[start] == '['`; returns whether `c` (if given) is in
/// it and the index after the closing `]`.
fn parse_class(p: &[char], start: usize, c: Option<char>) -> Result<(bool, usize), &'static str> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut count = 0;
    loop {
        if p.get(i) == Some(&']') && count > 0 {
            i += 1;
            break;
        }
        let (lo, next) = class_char(p, i)?;
        i = next;
        let mut hi = lo;
        if p.get(i) == Some(&'-') {
            let (h, next) = class_char(p, i + 1)?;
            hi = h;
            i = next;
        }
        if let Some(c) = c {
            if lo <= c && c <= hi {
                matched = true;
            }
        }
        count += 1;
    }
    Ok((matched != negated, i))
}

fn class_char(p: &[char], i: usize) -> Result<(char, usize), &'static str> {
    match p.get(i) {
        None => Err("unterminated character class"),
        Some('-') | Some(']') => Err("bad character class"),
        Some('\\') => p
            .get(i + 1)
            .map(|&c| (c, i + 2))
            .ok_or("unterminated escape in character class"),
        Some(&c) => Ok((c, i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_match_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*/b", "abc/b", true),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[x\\-]", "-", true),
            ("*x", "xxx", true),
        ];
        for (p, n, want) in cases {
            assert_eq!(match_component(p, n).unwrap(), *want, "{p} vs {n}");
        }
        for bad in ["[]a]", "[-]", "[x-]", "\\", "[a-b-c]", "[", "[^bc", "a["] {
            assert!(match_component(bad, "a").is_err(), "{bad}");
        }
    }

    #[test]
    fn split() {
        assert_eq!(split_wildcards("/a/b*/c"), ("/a".into(), "b*/c".into()));
        assert_eq!(split_wildcards("/a/b"), ("/a/b".into(), String::new()));
        assert_eq!(split_wildcards("/*.txt"), ("/".into(), "*.txt".into()));
        assert!(has_wildcard("a[b]"));
        assert!(!has_wildcard("a/b"));
    }
}
