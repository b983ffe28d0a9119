//! Heredoc words in COPY/ADD arguments (BuildKit's `parser.ParseHeredoc` on one word).

/// What a `<<NAME` word says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeredocWord {
    pub name: String,
    pub chomp: bool,
    /// False when any part of the name was quoted.
    pub expand: bool,
}

/// Recognises `[fd]<<[-][space]word` where `word` is one shell word; None otherwise.
pub(crate) fn parse_heredoc_word(src: &str) -> Option<HeredocWord> {
    let digits = src.bytes().take_while(u8::is_ascii_digit).count();
    let rest = src[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let (name, quoted) = unquote_single_word(rest)?;
    Some(HeredocWord {
        name,
        chomp,
        expand: !quoted,
    })
}

/// Removes shell quoting from `s` when it is exactly one word; returns whether quotes were
/// removed.
fn unquote_single_word(s: &str) -> Option<(String, bool)> {
    let mut out = String::new();
    let mut quoted = false;
    let mut words = 0usize;
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            in_word = false;
            continue;
        }
        if !in_word {
            words += 1;
            in_word = true;
        }
        match c {
            '\'' => {
                quoted = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    out.push(q);
                }
            }
            '"' => {
                quoted = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$')) => out.push(e),
                            Some(e) => {
                                out.push('\\');
                                out.push(e);
                            }
                            None => out.push('\\'),
                        },
                        q => out.push(q),
                    }
                }
            }
            '\\' => {
                if let Some(e) = chars.next() {
                    out.push(e);
                }
            }
            c => out.push(c),
        }
    }
    (words == 1).then_some((out, quoted))
}

/// Strips leading tabs from every line (`<<-`), as BuildKit's `ChompHeredocContent`.
pub(crate) fn chomp_heredoc_content(src: &str) -> String {
    src.split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(name: &str, chomp: bool, expand: bool) -> Option<HeredocWord> {
        Some(HeredocWord {
            name: name.to_string(),
            chomp,
            expand,
        })
    }

    #[test]
    fn words() {
        assert_eq!(parse_heredoc_word("<<EOF"), word("EOF", false, true));
        assert_eq!(parse_heredoc_word("<<-EOF"), word("EOF", true, true));
        assert_eq!(parse_heredoc_word("<<\"EOF\""), word("EOF", false, false));
        assert_eq!(parse_heredoc_word("<<-'EOF'"), word("EOF", true, false));
        assert_eq!(parse_heredoc_word("3<<EOF"), word("EOF", false, true));
        assert!(parse_heredoc_word("E\"O\"F").is_none());
        assert_eq!(parse_heredoc_word("<<"), None);
        assert_eq!(parse_heredoc_word("<<<EOF"), None);
        assert_eq!(parse_heredoc_word("file.txt"), None);
        assert_eq!(parse_heredoc_word("a<<EOF"), None);
    }

    #[test]
    fn chomp() {
        assert_eq!(chomp_heredoc_content("\t\ta\n\tb\n c\n"), "a\nb\n c\n");
    }
}
