//! The glob patterns of `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}`, as BuildKit implements them.
//!
//! BuildKit turns a pattern into a Go regular expression (`*` becomes `.*` or `.*?`, `?`
//! becomes `.`, everything else is literal; no bracket expressions) and matches it with Go's
//! leftmost-first semantics. This module matches the same language directly, so it inherits
//! Go's quirks exactly:
//! - `*` and `?` never match a newline (Go's `.` without the `s` flag);
//! - `\` may only escape `*`, `?` and `\`; before `}` or `/` it is dropped; anything else is
//!   an invalid escape;
//! - a byte-order mark at the very start of a pattern is ignored (Go's `text/scanner`);
//! - `%`/`%%` reverse the pattern and the value and trim a prefix;
//! - `${VAR//p/r}` expands `$0`, `${0}` and `$$` in `r` like Go's `Regexp.ReplaceAllString`
//!   (every other `$name` becomes empty), while `${VAR/p/r}` inserts `r` as it is.
//!
//! Matching is a dynamic programme over (pattern position, value position), O(pattern × value),
//! so no input can make it take exponential time.

use super::error::ShellError;
use super::scanner::Scanner;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character other than a newline.
    AnyChar,
    /// `*`: any run of characters other than newlines.
    Star,
}

/// How `*` chooses among the runs it could match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Greed {
    /// Longest first (`##`, `%%`, and `/` replacement).
    Longest,
    /// Shortest first (`#`, `%`).
    Shortest,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    tokens: Vec<Token>,
}

/// The character after a `\` that may not be escaped (`None`: the pattern ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InvalidEscape(Option<char>);

impl Pattern {
    fn compile(pattern: &str) -> Result<Self, InvalidEscape> {
        let mut scanner = Scanner::new(pattern);
        let mut tokens = Vec::new();
        while let Some(ch) = scanner.next_char() {
            let token = match ch {
                '*' => Token::Star,
                '?' => Token::AnyChar,
                // `\}` and `\/` were escaped for `${...}` only: the `\` is not part of the pattern.
                '\\' if matches!(scanner.peek(), Some('}' | '/')) => continue,
                '\\' => match scanner.next_char() {
                    Some(escaped @ ('*' | '?' | '\\')) => Token::Literal(escaped),
                    other => return Err(InvalidEscape(other)),
                },
                _ => Token::Literal(ch),
            };
            tokens.push(token);
        }
        Ok(Self { tokens })
    }

    /// For every start position `p` in `value` (0..=len), the end of the match that Go's
    /// leftmost-first engine would report for a match starting exactly at `p`, if any.
    fn match_ends(&self, value: &[char], greed: Greed) -> Vec<Option<usize>> {
        let len = value.len();
        // Ends when all tokens are matched: the empty rest matches where it stands.
        let mut next: Vec<Option<usize>> = (0..=len).map(Some).collect();
        for token in self.tokens.iter().rev() {
            let mut cur: Vec<Option<usize>> = vec![None; len + 1];
            match *token {
                Token::Literal(want) => {
                    for (p, &ch) in value.iter().enumerate() {
                        if ch == want {
                            cur[p] = next[p + 1];
                        }
                    }
                }
                Token::AnyChar => {
                    for (p, &ch) in value.iter().enumerate() {
                        if ch != '\n' {
                            cur[p] = next[p + 1];
                        }
                    }
                }
                Token::Star => {
                    // From p, `*` may stop at any q in p..=line_end(p); pick the longest (or
                    // shortest) q from which the rest of the pattern matches.
                    let mut best: Option<usize> = None;
                    for p in (0..=len).rev() {
                        let boundary = value.get(p).is_none_or(|&ch| ch == '\n');
                        let rest_matches = next[p].is_some();
                        if boundary {
                            best = rest_matches.then_some(p);
                        } else if rest_matches && (greed == Greed::Shortest || best.is_none()) {
                            best = Some(p);
                        }
                        cur[p] = best.and_then(|q| next[q]);
                    }
                }
            }
            next = cur;
        }
        next
    }
}

fn invalid(pattern: &str, escape: InvalidEscape) -> ShellError {
    ShellError::InvalidPattern {
        word: String::new(),
        pattern: pattern.to_owned(),
        escaped: escape.0,
    }
}

/// `${VAR#pattern}` / `${VAR##pattern}`: removes the matching prefix of `value`.
pub(crate) fn trim_prefix(pattern: &str, value: &str, greed: Greed) -> Result<String, ShellError> {
    let compiled = Pattern::compile(pattern).map_err(|e| invalid(pattern, e))?;
    let chars: Vec<char> = value.chars().collect();
    let ends = compiled.match_ends(&chars, greed);
    Ok(match ends.first().copied().flatten() {
        Some(end) => chars.get(end..).unwrap_or_default().iter().collect(),
        None => value.to_owned(),
    })
}

/// `${VAR%pattern}` / `${VAR%%pattern}`: removes the matching suffix of `value`, by reversing
/// pattern and value and trimming a prefix, as BuildKit does.
pub(crate) fn trim_suffix(pattern: &str, value: &str, greed: Greed) -> Result<String, ShellError> {
    let reversed_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed_value, greed)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern but keeps each `\x` escape pair in order (`a\*c` becomes `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let mut units: Vec<(char, Option<char>)> = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            if let Some(escaped) = chars.next() {
                units.push((ch, Some(escaped)));
                continue;
            }
        }
        units.push((ch, None));
    }
    let mut out = String::with_capacity(pattern.len());
    for (first, second) in units.into_iter().rev() {
        out.push(first);
        out.extend(second);
    }
    out
}

/// How many matches `${VAR/…}` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    /// `${VAR/pattern/replacement}`.
    First,
    /// `${VAR//pattern/replacement}`.
    All,
}

/// `${VAR/pattern/replacement}` and `${VAR//pattern/replacement}`; a `//` result longer than
/// `limit` bytes fails (nested replacements would otherwise grow exponentially).
pub(crate) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    which: Replace,
    limit: usize,
) -> Result<String, ShellError> {
    let compiled = Pattern::compile(pattern).map_err(|e| invalid(pattern, e))?;
    let chars: Vec<char> = value.chars().collect();
    let ends = compiled.match_ends(&chars, Greed::Longest);
    let slice = |from: usize, to: usize| chars.get(from..to).unwrap_or_default().iter();
    let find_from = |from: usize| {
        ends.iter()
            .enumerate()
            .skip(from)
            .find_map(|(start, end)| end.map(|end| (start, end)))
    };
    let len = chars.len();
    let mut out = String::with_capacity(value.len() + replacement.len());
    match which {
        Replace::First => match find_from(0) {
            Some((start, end)) => {
                out.extend(slice(0, start));
                out.push_str(replacement);
                out.extend(slice(end, len));
            }
            None => out.push_str(value),
        },
        Replace::All => {
            // Go's Regexp.replaceAll, in characters instead of bytes.
            let mut last_end = 0;
            let mut search = 0;
            while search <= len {
                let Some((start, end)) = find_from(search) else {
                    break;
                };
                out.extend(slice(last_end, start));
                // No replacement for an empty match right after the previous match.
                if end > last_end || start == 0 {
                    expand_template(&mut out, replacement, slice(start, end));
                }
                if out.len() > limit {
                    return Err(ShellError::TooLarge {
                        word: String::new(),
                        limit,
                    });
                }
                last_end = end;
                let width = usize::from(search < len);
                if search + width > end {
                    search += width;
                } else if search + 1 > end {
                    search += 1;
                } else {
                    search = end;
                }
            }
            out.extend(slice(last_end, len));
        }
    }
    Ok(out)
}

/// Go's `Regexp.Expand` for a regexp without groups: `$$` is `$`, `$0`/`${0}` the match,
/// any other `$name`/`${name}` nothing, and a `$` not followed by a name stays.
fn expand_template<'a>(out: &mut String, template: &str, matched: impl Iterator<Item = &'a char>) {
    let matched: String = matched.collect();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('$') {
        out.push_str(before);
        rest = after;
        if let Some(after_dollar) = rest.strip_prefix('$') {
            out.push('$');
            rest = after_dollar;
            continue;
        }
        match template_name(rest) {
            Some((name, after_name)) => {
                rest = after_name;
                if name == "0" {
                    out.push_str(&matched);
                }
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
}

/// Go's `regexp.extract`: a leading `name` or `{name}` (letters, digits, `_`).
fn template_name(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let name_len: usize = body
        .chars()
        .take_while(|&c| super::chars::is_letter(c) || super::chars::is_digit(c) || c == '_')
        .map(char::len_utf8)
        .sum();
    if name_len == 0 {
        return None;
    }
    let (name, rest) = body.split_at(name_len);
    if braced {
        let rest = rest.strip_prefix('}')?;
        return Some((name, rest));
    }
    Some((name, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str, v: &str, g: Greed) -> String {
        trim_prefix(p, v, g).unwrap()
    }

    fn suffix(p: &str, v: &str, g: Greed) -> String {
        trim_suffix(p, v, g).unwrap()
    }

    #[test]
    fn compiles_escapes_as_buildkit() {
        let p = Pattern::compile(r"(()[]{\}^$.\*\?|\\").unwrap();
        let lits: String = p
            .tokens
            .iter()
            .map(|t| match t {
                Token::Literal(c) => *c,
                _ => '!',
            })
            .collect();
        assert_eq!(lits, r"(()[]{}^$.*?|\");
        for bad in ["\\", "\\x", "\\\\\\"] {
            assert!(Pattern::compile(bad).is_err(), "{bad}");
        }
        assert_eq!(Pattern::compile("\\x"), Err(InvalidEscape(Some('x'))));
        assert_eq!(Pattern::compile("a\\"), Err(InvalidEscape(None)));
        assert_eq!(
            Pattern::compile("\u{FEFF}a").unwrap().tokens,
            vec![Token::Literal('a')]
        );
    }

    #[test]
    fn reverses_patterns_keeping_escapes() {
        assert_eq!(reverse_pattern("a\\*c"), "c\\*a");
        assert_eq!(reverse_pattern("\\\\\\ab"), "b\\a\\\\");
        assert_eq!(reverse_pattern("ab\\"), "\\ba");
        assert_eq!(reverse_pattern("👽\\🚀🖖"), "🖖\\🚀👽");
        assert_eq!(reverse_pattern("\\\\b"), "b\\\\");
    }

    #[test]
    fn trims_prefixes() {
        assert_eq!(prefix("*x*y", "xxyy", Greed::Shortest), "y");
        assert_eq!(prefix("*", "xxyy", Greed::Shortest), "xxyy");
        assert_eq!(prefix("*x", "xxyy", Greed::Longest), "yy");
        assert_eq!(prefix("", "xxyy", Greed::Longest), "xxyy");
        assert_eq!(prefix("?\\?", "???y", Greed::Shortest), "?y");
        assert_eq!(prefix("b", "abc", Greed::Shortest), "abc");
        assert_eq!(prefix("*", "ab\ncd", Greed::Longest), "\ncd");
        assert_eq!(prefix("?", "\nab", Greed::Longest), "\nab");
    }

    #[test]
    fn trims_suffixes() {
        assert_eq!(suffix("x", "xxyy", Greed::Shortest), "xxyy");
        assert_eq!(suffix("\\**", "xx**", Greed::Longest), "xx");
        assert_eq!(suffix("\\**\\*", "a***yy*", Greed::Longest), "a");
        assert_eq!(suffix("y*", "xyxy", Greed::Shortest), "xyx");
        assert_eq!(suffix("y*", "xyxy", Greed::Longest), "x");
        assert_eq!(suffix("", "xxyy", Greed::Longest), "xxyy");
    }

    #[test]
    fn replaces_first_and_all() {
        let r = |p: &str, v: &str, rep: &str, w| replace(p, v, rep, w, usize::MAX).unwrap();
        assert_eq!(
            r("\\*/", "/foo*/*/*.txt", ".", Replace::First),
            "/foo.*/*.txt"
        );
        assert_eq!(r("\\*/", "/foo*/*/*.txt", ".", Replace::All), "/foo..*.txt");
        assert_eq!(r("/?/", "/a/foo/b/c.txt", "/", Replace::All), "/foo/c.txt");
        assert_eq!(
            r("\\/", "/tmp/foo.txt", "\\/", Replace::All),
            "\\/tmp\\/foo.txt"
        );
        assert_eq!(r("", "xxyy", "ww", Replace::First), "wwxxyy");
        assert_eq!(r("", "xxyy", "", Replace::All), "xxyy");
        assert_eq!(r("", "ab", "-", Replace::All), "-a-b-");
        assert_eq!(r("x", "axxbx", "-", Replace::All), "a--b-");
        assert_eq!(r("x*", "axxbx", "-", Replace::All), "a-");
        assert_eq!(r("o", "foo", "[$0]", Replace::All), "f[o][o]");
        assert_eq!(
            r("o", "foo", "[${0}$1$$$.$]", Replace::All),
            "f[o$$.$][o$$.$]"
        );
        assert_eq!(r("o", "foo", "[$0]", Replace::First), "f[$0]o");
        assert_eq!(r("*", "a\nb", "-", Replace::All), "-\n-");
    }

    #[test]
    fn replace_all_is_bounded() {
        assert_eq!(
            replace("", "abc", "xyz", Replace::All, 10),
            Err(ShellError::TooLarge {
                word: String::new(),
                limit: 10
            })
        );
        assert_eq!(replace("", "abc", "x", Replace::All, 7).unwrap(), "xaxbxcx");
    }

    #[test]
    fn long_inputs_stay_polynomial() {
        let value = "a".repeat(2000);
        let pattern = "*a".repeat(50) + "b";
        assert_eq!(prefix(&pattern, &value, Greed::Longest), value);
        assert_eq!(
            replace(&pattern, &value, "", Replace::All, usize::MAX).unwrap(),
            value
        );
    }
}
