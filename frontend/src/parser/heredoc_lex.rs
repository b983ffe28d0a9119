//! The subset of BuildKit's shell lexer (`shell.Lex.ProcessWords`) that the parser runs to
//! find heredoc words: backslash escapes, no environment, and unset variables kept as
//! written (`SkipUnsetEnv`). `raw_quotes`/`raw_escapes` keep quotes/escapes in the words.
//!
//! Quirks kept on purpose, since they decide what BuildKit takes for a heredoc: the word
//! buffer is shared with nested `${...}` words (a nested word resets it), and with raw escapes
//! an escape before an ordinary character inside double quotes is written twice.

use super::error::LexError;
use super::quote::{is_go_digit, is_go_letter};

const ESCAPE: char = '\\';

/// Lexer options (BuildKit's `Lex` fields).
#[derive(Debug, Clone, Copy, Default)]
pub struct LexOptions {
    pub raw_quotes: bool,
    pub raw_escapes: bool,
}

/// Splits `input` into words as `ProcessWords` does with an empty environment.
pub fn process_words(input: &str, options: LexOptions) -> Result<Vec<String>, LexError> {
    let mut chars: Vec<char> = input.chars().collect();
    // text/scanner skips a byte-order mark at the start.
    if chars.first() == Some(&'\u{feff}') {
        chars.remove(0);
    }
    let mut lex = Lexer {
        chars,
        pos: 0,
        raw_quotes: options.raw_quotes,
        raw_escapes: options.raw_escapes,
        words_buffer: String::new(),
    };
    let (_, words) = lex.process_stop_on(None, options.raw_escapes)?;
    Ok(words)
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    raw_quotes: bool,
    raw_escapes: bool,
    /// Shared by every nesting level, as in BuildKit.
    words_buffer: String,
}

/// The words collected by one `process_stop_on` level (its buffer is the shared one).
#[derive(Default)]
struct Words {
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, buf: &mut String, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !buf.is_empty() {
                self.words.push(std::mem::take(buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(buf, ch);
        }
    }

    fn add_raw_char(&mut self, buf: &mut String, ch: char) {
        buf.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, buf: &mut String, s: &str) {
        for ch in s.chars() {
            self.add_char(buf, ch);
        }
    }

    fn add_raw_string(&mut self, buf: &mut String, s: &str) {
        buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self, buf: &mut String) -> Vec<String> {
        if !buf.is_empty() {
            self.words.push(std::mem::take(buf));
        }
        self.words
    }
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), LexError> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let result = self.stop_on(stop);
        self.raw_escapes = saved;
        result
    }

    fn stop_on(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), LexError> {
        let mut result = String::new();
        self.words_buffer.clear();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                let words = words.finish(&mut self.words_buffer);
                return Ok((result, words));
            }
            match ch {
                '$' => {
                    let tmp = self.process_dollar()?;
                    result.push_str(&tmp);
                    words.add_string(&mut self.words_buffer, &tmp);
                }
                '<' | '\'' | '"' => {
                    let tmp = match ch {
                        '<' => self.process_possible_heredoc(),
                        '\'' => self.process_single_quote()?,
                        _ => self.process_double_quote()?,
                    };
                    result.push_str(&tmp);
                    words.add_raw_string(&mut self.words_buffer, &tmp);
                }
                _ => {
                    self.pos += 1;
                    if ch == ESCAPE {
                        if self.raw_escapes {
                            words.add_raw_char(&mut self.words_buffer, ch);
                            result.push(ch);
                        }
                        let Some(escaped) = self.next() else {
                            break;
                        };
                        words.add_raw_char(&mut self.words_buffer, escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(&mut self.words_buffer, ch);
                        result.push(ch);
                    }
                }
            }
        }
        if let Some(stop) = stop {
            return Err(LexError::UnexpectedEnd(stop));
        }
        let words = words.finish(&mut self.words_buffer);
        Ok((result, words))
    }

    fn process_single_quote(&mut self) -> Result<String, LexError> {
        let mut out = String::new();
        let open = self.next();
        if self.raw_quotes {
            out.extend(open);
        }
        loop {
            match self.next() {
                None => return Err(LexError::UnterminatedSingleQuote),
                Some('\'') => {
                    if self.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Result<String, LexError> {
        let mut out = String::new();
        let open = self.next();
        if self.raw_quotes {
            out.extend(open);
        }
        loop {
            match self.peek() {
                None => return Err(LexError::UnterminatedDoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    if self.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    out.push_str(&value);
                }
                Some(mut c) => {
                    self.pos += 1;
                    if c == ESCAPE {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            Some('"' | '$' | ESCAPE) => {
                                self.pos += 1;
                                c = self.chars[self.pos - 1];
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    /// `$name`, `${name}`, `${name<op>word}`, `${name/a/b}`: with no variables set, all are
    /// kept as written (the inner words processed).
    fn process_dollar(&mut self) -> Result<String, LexError> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.process_name();
            return Ok(format!("${name}"));
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(LexError::MissingBrace),
            Some('{' | '}' | ':') => return Err(LexError::BadSubstitution),
            Some(_) => {}
        }
        let name = self.process_name();
        let ch = self.next();
        let mut modifier = String::from(ch.unwrap_or('\u{fffd}'));
        match ch {
            Some('}') => Ok(format!("${{{name}}}")),
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                let mut op = ch;
                let null_is_unset = ch == Some(':');
                if null_is_unset {
                    op = self.next();
                    modifier.push(op.unwrap_or('\u{fffd}'));
                }
                let raw = matches!(op, Some('#' | '%'));
                if null_is_unset && raw {
                    return Err(LexError::UnsupportedModifier { modifier });
                }
                let word = self.nested('}', raw, LexError::MissingBrace)?;
                Ok(format!("${{{name}{modifier}{word}}}"))
            }
            Some('/') => {
                if self.peek() == Some('/') {
                    self.pos += 1;
                }
                let pattern = self.nested('/', true, LexError::MissingSlash)?;
                let replacement = self.nested('}', true, LexError::MissingBrace)?;
                Ok(format!("${{{name}/{pattern}/{replacement}}}"))
            }
            _ => Err(LexError::UnsupportedModifier { modifier }),
        }
    }

    fn nested(&mut self, stop: char, raw: bool, at_end: LexError) -> Result<String, LexError> {
        match self.process_stop_on(Some(stop), raw) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() => Err(at_end),
            Err(e) => Err(e),
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_go_digit(ch) {
                while let Some(d) = self.peek().filter(|c| is_go_digit(*c)) {
                    self.pos += 1;
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return ch.to_string();
            }
            if !is_go_letter(ch) && !is_go_digit(ch) && ch != '_' {
                break;
            }
            self.pos += 1;
            name.push(ch);
        }
        name
    }

    /// `<<` plus the blanks after it stay together in one word.
    fn process_possible_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.pos += 1;
        let mut out = String::from("<<");
        while let Some(c) = self.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            out.push(c);
            self.pos += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: LexOptions = LexOptions {
        raw_quotes: true,
        raw_escapes: true,
    };

    fn words(s: &str) -> Vec<String> {
        process_words(s, RAW).unwrap()
    }

    #[test]
    fn keeps_heredoc_markers_together() {
        assert_eq!(words("RUN <<EOF"), ["RUN", "<<EOF"]);
        assert_eq!(words("RUN <<  EOF  > foo"), ["RUN", "<<  EOF", ">", "foo"]);
        assert_eq!(words("RUN <<- EOF"), ["RUN", "<<-", "EOF"]);
        assert_eq!(words("RUN '<<EOF'"), ["RUN", "'<<EOF'"]);
        assert_eq!(words("COPY <<A <<B /d"), ["COPY", "<<A", "<<B", "/d"]);
    }

    #[test]
    fn variables_stay_as_written() {
        assert_eq!(
            words("a $X ${Y} ${Z:-d e}"),
            ["a", "$X", "${Y}", "${Z:-d", "e}"]
        );
        assert_eq!(words("${A/b/c} ${A//b/c}"), ["${A/b/c}", "${A/b/c}"]);
        assert_eq!(words("$ $1 $@"), ["$", "$1", "$@"]);
        assert_eq!(process_words("${", RAW), Err(LexError::MissingBrace));
        assert_eq!(process_words("${}", RAW), Err(LexError::BadSubstitution));
        assert_eq!(process_words("${a:-b", RAW), Err(LexError::MissingBrace));
        assert_eq!(process_words("${a/b", RAW), Err(LexError::MissingSlash));
    }

    #[test]
    fn quotes_raw_and_removed() {
        assert_eq!(words(r#"<<"EOF""#), [r#"<<"EOF""#]);
        let plain = LexOptions::default();
        assert_eq!(process_words(r#""EOF""#, plain).unwrap(), ["EOF"]);
        assert_eq!(process_words(r"eo\'f", plain).unwrap(), ["eo'f"]);
        assert_eq!(process_words("'one two'", plain).unwrap(), ["one two"]);
        assert_eq!(
            process_words("'EOF", plain),
            Err(LexError::UnterminatedSingleQuote)
        );
        assert_eq!(
            process_words("\"EOF", plain),
            Err(LexError::UnterminatedDoubleQuote)
        );
    }

    #[test]
    fn nested_word_resets_the_shared_buffer() {
        assert_eq!(words("abc${x:-y}"), ["${x:-y}"]);
        assert_eq!(words(r#""a\b""#), [r#""a\\b""#]);
    }
}
