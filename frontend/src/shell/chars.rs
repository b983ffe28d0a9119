//! Character classes as Go's `unicode` package defines them (BuildKit uses `unicode.IsSpace`,
//! `unicode.IsLetter` and `unicode.IsDigit`), and Go's `strconv.Quote` used in error messages.

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// Go's `unicode.IsSpace`: the Unicode `White_Space` property, which is what Rust's
/// `char::is_whitespace` implements too.
pub(crate) fn is_space(ch: char) -> bool {
    ch.is_whitespace()
}

/// Go's `unicode.IsLetter`: general category L (Lu, Ll, Lt, Lm, Lo).
pub(crate) fn is_letter(ch: char) -> bool {
    if ch.is_ascii() {
        return ch.is_ascii_alphabetic();
    }
    ch.general_category_group() == GeneralCategoryGroup::Letter
}

/// Go's `unicode.IsDigit`: general category Nd.
pub(crate) fn is_digit(ch: char) -> bool {
    if ch.is_ascii() {
        return ch.is_ascii_digit();
    }
    ch.general_category() == GeneralCategory::DecimalNumber
}

/// Go's `unicode.IsPrint`: categories L, M, N, P, S and the ASCII space.
fn is_print(ch: char) -> bool {
    if ch == ' ' {
        return true;
    }
    matches!(
        ch.general_category_group(),
        GeneralCategoryGroup::Letter
            | GeneralCategoryGroup::Mark
            | GeneralCategoryGroup::Number
            | GeneralCategoryGroup::Punctuation
            | GeneralCategoryGroup::Symbol
    )
}

/// Go's `strconv.Quote` (what `%q` prints), so error messages read as BuildKit's do.
pub(crate) fn go_quote(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = |v: u32| char::from(HEX.get((v & 0xF) as usize).copied().unwrap_or(b'0'));
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            _ if is_print(ch) => out.push(ch),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            _ => {
                let v = u32::from(ch);
                let (prefix, digits) = if v < 0x20 || v == 0x7f {
                    ("\\x", 2)
                } else if v < 0x10000 {
                    ("\\u", 4)
                } else {
                    ("\\U", 8)
                };
                out.push_str(prefix);
                for i in (0..digits).rev() {
                    out.push(hex(v >> (4 * i)));
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_go() {
        assert!(is_letter('a') && is_letter('한') && is_letter('ß'));
        assert!(!is_letter('_') && !is_letter('1') && !is_letter('\u{0345}'));
        assert!(is_digit('7') && is_digit('\u{0661}'));
        assert!(!is_digit('\u{2160}') && !is_digit('½'));
        assert!(is_space('\u{a0}') && is_space('\u{85}') && is_space('\u{3000}'));
        assert!(!is_space('\u{200b}'));
    }

    #[test]
    fn quotes_like_strconv() {
        assert_eq!(go_quote("he said \"hi\"\\"), r#""he said \"hi\"\\""#);
        assert_eq!(go_quote("a\tb\n\u{0}\u{7f}"), r#""a\tb\n\x00\x7f""#);
        assert_eq!(go_quote("한국어 ok"), "\"한국어 ok\"");
        assert_eq!(go_quote("\u{200b}\u{e0001}"), r#""\u200b\U000e0001""#);
        assert_eq!(go_quote("\u{a0}"), r#""\u00a0""#);
    }
}
