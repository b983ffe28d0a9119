//! Go's `strconv.Quote` (the `%q` verb), which the dump format uses for every string.

use unicode_properties::{GeneralCategory as Gc, UnicodeGeneralCategory};

/// Quotes `s` exactly as Go's `strconv.Quote` does: `"` and `\` escaped, printable runes
/// kept, `\a \b \f \n \r \t \v` by name, other control bytes as `\xHH`, other non-printable
/// runes as `\uHHHH` / `\UHHHHHHHH`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_go_quoted(&mut out, s);
    out
}

/// Appends the Go-quoted form of `s` to `out`.
pub fn push_go_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        push_quoted_char(out, c);
    }
    out.push('"');
}

/// `%q` of a `[]string`: `["a" "b"]`.
pub fn go_quote_list(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_go_quoted(&mut out, item);
    }
    out.push(']');
    out
}

fn push_quoted_char(out: &mut String, c: char) {
    if c == '"' || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_go_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
pub fn is_go_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !matches!(
        c.general_category(),
        Gc::SpaceSeparator
            | Gc::LineSeparator
            | Gc::ParagraphSeparator
            | Gc::Control
            | Gc::Format
            | Gc::Surrogate
            | Gc::PrivateUse
            | Gc::Unassigned
    )
}

/// Go's `unicode.IsLetter` (general category L).
pub fn is_go_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    matches!(
        c.general_category(),
        Gc::UppercaseLetter
            | Gc::LowercaseLetter
            | Gc::TitlecaseLetter
            | Gc::ModifierLetter
            | Gc::OtherLetter
    )
}

/// Go's `unicode.IsDigit` (general category Nd).
pub fn is_go_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    c.general_category() == Gc::DecimalNumber
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("abc"), r#""abc""#);
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            go_quote("\0\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}\u{7f}"),
            r#""\x00\a\b\t\n\v\f\r\x1b\x7f""#
        );
        assert_eq!(go_quote("☥ ☃ é 한국어"), "\"☥ ☃ é 한국어\"");
        assert_eq!(go_quote("\u{a0}\u{200b}\u{85}"), r#""\u00a0\u200b\u0085""#);
        assert_eq!(go_quote("\u{e000}\u{f0000}"), r#""\ue000\U000f0000""#);
        assert_eq!(go_quote("😀"), "\"😀\"");
    }

    #[test]
    fn quotes_lists_like_go() {
        assert_eq!(
            go_quote_list(&["--a=b".into(), "c d".into()]),
            r#"["--a=b" "c d"]"#
        );
        assert_eq!(go_quote_list(&[]), "[]");
    }
}
