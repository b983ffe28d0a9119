//! Small text helpers with Go's exact semantics (`unicode.IsSpace`, `strings.TrimSpace`,
//! the parser's `[\t\v\f\r ]+` splitter, byte-wise scans).

/// Go's `unicode.IsSpace` on a rune; identical to Rust's `char::is_whitespace`.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `unicode.IsSpace(rune(b))` for a single byte, as BuildKit's byte-wise scanners use it:
/// the bytes 0x85 and 0xA0 count as spaces even inside a multi-byte character.
pub fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// The parser's `reWhitespace` class: `[\t\v\f\r ]`.
pub fn is_re_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// `reWhitespace.Split(s, -1)`.
pub fn split_re_whitespace(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(is_re_whitespace) {
        parts.push(&rest[..start]);
        let after = &rest[start..];
        let run = after.len() - after.trim_start_matches(is_re_whitespace).len();
        rest = &after[run..];
    }
    parts.push(rest);
    parts
}

/// `reWhitespace.Split(s, 2)`: the text before the first whitespace run, and the rest after it.
pub fn split2_re_whitespace(s: &str) -> (&str, Option<&str>) {
    match s.find(is_re_whitespace) {
        None => (s, None),
        Some(start) => {
            let rest = s[start..].trim_start_matches(is_re_whitespace);
            (&s[..start], Some(rest))
        }
    }
}

/// `bytes.TrimRight(line, "\r\n")`.
pub fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// `bytes.TrimLeftFunc(line, unicode.IsSpace)`.
pub fn trim_leading_whitespace(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

/// BuildKit's `isComment`: the first non-space character is `#`.
pub fn is_comment(line: &str) -> bool {
    trim_leading_whitespace(line).starts_with('#')
}

/// Go's `strings.ToLower` (rune by rune, no context).
pub fn go_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            // Go maps U+0130 to a plain 'i' (Rust adds a combining dot).
            '\u{130}' => out.push('i'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Bytes taken out of a Go string at a byte offset may split a character; Go keeps the raw
/// bytes, here they become U+FFFD (only reachable through the 0x85/0xA0 byte quirk).
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_re_whitespace() {
        assert_eq!(split_re_whitespace("a  b\tc"), vec!["a", "b", "c"]);
        assert_eq!(split_re_whitespace("a"), vec!["a"]);
        assert_eq!(split_re_whitespace(""), vec![""]);
        assert_eq!(split_re_whitespace("a\u{a0}b"), vec!["a\u{a0}b"]);
        assert_eq!(split2_re_whitespace("RUN  a b"), ("RUN", Some("a b")));
        assert_eq!(split2_re_whitespace("RUN"), ("RUN", None));
    }

    #[test]
    fn comments_and_newlines() {
        assert!(is_comment("  # x"));
        assert!(!is_comment("x # y"));
        assert_eq!(trim_newline("a\r\n\r\n"), "a");
        assert_eq!(go_lower("RUN"), "run");
        assert_eq!(go_lower("\u{130}X"), "ix");
    }
}
