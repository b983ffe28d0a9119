//! BuildKit's `parseWords`: splits on whitespace outside quotes, keeping quotes and escapes
//! in the words (they are removed later, at word expansion).

use super::text::is_space;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Spaces,
    Word,
    Quote(char),
}

/// Splits `rest` into words; `escape` is the file's escape token.
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut blank_ok = false;
    let mut word = String::new();
    let mut chars = rest.chars().peekable();

    while let Some(ch) = chars.next() {
        if phase == Phase::Spaces {
            if is_space(ch) {
                continue;
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Spaces => {}
            Phase::Word => {
                if is_space(ch) {
                    phase = Phase::Spaces;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    match chars.next() {
                        // An escape token at the very end is dropped.
                        None => continue,
                        // Outside quotes the escape and the next character stay together,
                        // even when that character is a quote.
                        Some(next) => {
                            word.push(ch);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
            Phase::Quote(quote) => {
                if ch == quote {
                    phase = Phase::Word;
                }
                if ch == escape && quote != '\'' {
                    match chars.next() {
                        None => {
                            phase = Phase::Word;
                            continue;
                        }
                        Some(next) => {
                            word.push(ch);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
        }
    }
    if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        parse_words(s, '\\')
    }

    #[test]
    fn splits_like_buildkit() {
        assert_eq!(w("foo"), ["foo"]);
        assert_eq!(w("foo bar"), ["foo", "bar"]);
        assert_eq!(w("foo\\ bar"), ["foo\\ bar"]);
        assert_eq!(w("foo=bar"), ["foo=bar"]);
        assert_eq!(w("foo bar 'abc xyz'"), ["foo", "bar", "'abc xyz'"]);
        assert_eq!(w(r#"foo bar "abc xyz""#), ["foo", "bar", r#""abc xyz""#]);
        assert_eq!(w("àöû"), ["àöû"]);
        assert_eq!(w(r#"föo bàr "âbc xÿz""#), ["föo", "bàr", r#""âbc xÿz""#]);
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w(r#"a="x \" y" b"#), [r#"a="x \" y""#, "b"]);
        assert_eq!(w(r"a='x \' y"), [r"a='x \'", "y"]);
        assert_eq!(w("a\\"), ["a"]);
        assert_eq!(w("''"), ["''"]);
        assert_eq!(parse_words("a` b", '`'), ["a` b"]);
        assert!(w("   ").is_empty());
    }
}
