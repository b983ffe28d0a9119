//! The expansion state machine: one [`Expander`] per call, walking the word as BuildKit's
//! `shellWord` does (`processStopOn`, `processSingleQuote`, `processDoubleQuote`,
//! `processDollar`, `processName`, `processPossibleHeredoc`).

use std::collections::BTreeSet;

use super::chars::{is_digit, is_letter};
use super::error::ShellError;
use super::lexer::LexerOptions;
use super::pattern::{self, Greed, Replace};
use super::scanner::Scanner;
use super::words::Words;
use super::EnvGetter;

/// Where one level of expansion ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The end of the word.
    End,
    /// The `}` closing a `${...}`.
    Brace,
    /// The `/` ending the pattern of `${VAR/pattern/replacement}`.
    Slash,
}

impl Stop {
    fn char(self) -> Option<char> {
        match self {
            Self::End => None,
            Self::Brace => Some('}'),
            Self::Slash => Some('/'),
        }
    }
}

/// Characters with their own processing at the top level of a word.
enum Special {
    Dollar,
    Heredoc,
    SingleQuote,
    DoubleQuote,
}

/// What one level of expansion produced: the word, and the same split into words.
pub(crate) struct Level {
    pub(crate) word: String,
    pub(crate) words: Vec<String>,
}

pub(crate) struct Expander<'a> {
    escape: char,
    options: LexerOptions,
    env: &'a dyn EnvGetter,
    scanner: Scanner,
    raw_escapes: bool,
    /// The word being split; shared by every level (see the `words` module).
    words_buf: String,
    /// Record which variables were looked up.
    capture: bool,
    /// How many `${...}` levels enclose the current position.
    depth: usize,
    /// The longest any expanded text may grow: the word's own length plus the limit.
    max_len: usize,
    pub(crate) matched: BTreeSet<String>,
    pub(crate) unmatched: BTreeSet<String>,
}

impl<'a> Expander<'a> {
    pub(crate) fn new(
        word: &str,
        escape: char,
        options: LexerOptions,
        env: &'a dyn EnvGetter,
        capture: bool,
    ) -> Self {
        Self {
            escape,
            options,
            env,
            scanner: Scanner::new(word),
            raw_escapes: options.raw_escapes,
            words_buf: String::new(),
            capture,
            depth: 0,
            max_len: options.max_expansion_bytes.saturating_add(word.len()),
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        }
    }

    /// Expands up to `stop` (consumed), with escapes kept (`raw_escapes`) or removed.
    pub(crate) fn process_stop_on(
        &mut self,
        stop: Stop,
        raw_escapes: bool,
    ) -> Result<Level, ShellError> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let level = self.stop_on(stop);
        self.raw_escapes = saved;
        level
    }

    fn special(&self, ch: char) -> Option<Special> {
        match ch {
            '$' => Some(Special::Dollar),
            '<' => Some(Special::Heredoc),
            '\'' if !self.options.skip_process_quotes => Some(Special::SingleQuote),
            '"' if !self.options.skip_process_quotes => Some(Special::DoubleQuote),
            _ => None,
        }
    }

    fn stop_on(&mut self, stop: Stop) -> Result<Level, ShellError> {
        let mut word = String::new();
        self.words_buf.clear();
        let mut words = Words::default();
        while let Some(ch) = self.scanner.peek() {
            if stop.char() == Some(ch) {
                self.scanner.next_char();
                let words = words.finish(&mut self.words_buf);
                return Ok(Level { word, words });
            }
            let quoted = match self.special(ch) {
                Some(Special::Dollar) => {
                    let value = self.process_dollar()?;
                    word.push_str(&value);
                    self.check_len(&word)?;
                    words.add_string(&mut self.words_buf, &value);
                    continue;
                }
                Some(Special::SingleQuote) => self.process_single_quote()?,
                Some(Special::DoubleQuote) => self.process_double_quote()?,
                Some(Special::Heredoc) => self.process_possible_heredoc(),
                None => {
                    self.scanner.next_char();
                    if ch != self.escape {
                        words.add_char(&mut self.words_buf, ch);
                        word.push(ch);
                        continue;
                    }
                    if self.raw_escapes {
                        words.add_raw_char(&mut self.words_buf, ch);
                        word.push(ch);
                    }
                    // The escape escapes the next character; at the end it is dropped.
                    let Some(escaped) = self.scanner.next_char() else {
                        break;
                    };
                    words.add_raw_char(&mut self.words_buf, escaped);
                    word.push(escaped);
                    continue;
                }
            };
            word.push_str(&quoted);
            self.check_len(&word)?;
            words.add_raw_string(&mut self.words_buf, &quoted);
        }
        match stop {
            Stop::End => {
                let words = words.finish(&mut self.words_buf);
                Ok(Level { word, words })
            }
            Stop::Brace => Err(missing_brace()),
            Stop::Slash => Err(ShellError::MissingPatternSlash {
                word: String::new(),
            }),
        }
    }

    /// `'...'`: everything literal up to the next `'`; nothing escapes it.
    fn process_single_quote(&mut self) -> Result<String, ShellError> {
        self.scanner.next_char();
        let mut text = String::new();
        if self.options.raw_quotes {
            text.push('\'');
        }
        loop {
            match self.scanner.next_char() {
                None => {
                    return Err(ShellError::UnterminatedSingleQuote {
                        word: String::new(),
                    })
                }
                Some('\'') => {
                    if self.options.raw_quotes {
                        text.push('\'');
                    }
                    return Ok(text);
                }
                Some(ch) => text.push(ch),
            }
        }
    }

    /// `"..."`: literal except `$` expansions; the escape token escapes only `"`, `$` and
    /// itself, and stays before anything else.
    fn process_double_quote(&mut self) -> Result<String, ShellError> {
        self.scanner.next_char();
        let mut text = String::new();
        if self.options.raw_quotes {
            text.push('"');
        }
        loop {
            match self.scanner.peek() {
                None => {
                    return Err(ShellError::UnterminatedDoubleQuote {
                        word: String::new(),
                    })
                }
                Some('"') => {
                    self.scanner.next_char();
                    if self.options.raw_quotes {
                        text.push('"');
                    }
                    return Ok(text);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    text.push_str(&value);
                    self.check_len(&text)?;
                }
                Some(mut ch) => {
                    self.scanner.next_char();
                    if ch == self.escape {
                        if self.raw_escapes {
                            text.push(ch);
                        }
                        match self.scanner.peek() {
                            // An escape at the end is ignored (the quote is unterminated).
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == self.escape => {
                                self.scanner.next_char();
                                ch = next;
                            }
                            Some(_) => {}
                        }
                    }
                    text.push(ch);
                }
            }
        }
    }

    /// `<<` and the blanks after it stay together in one word (heredoc markers).
    fn process_possible_heredoc(&mut self) -> String {
        self.scanner.next_char();
        if self.scanner.peek() != Some('<') {
            return "<".to_owned();
        }
        self.scanner.next_char();
        let mut text = "<<".to_owned();
        while let Some(ch @ ('\t' | '\r' | ' ')) = self.scanner.peek() {
            self.scanner.next_char();
            text.push(ch);
        }
        text
    }

    /// `$NAME`, `${NAME}` and `${NAME<modifier>...}`.
    fn process_dollar(&mut self) -> Result<String, ShellError> {
        self.scanner.next_char();
        if self.scanner.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(match self.get_env(&name) {
                Some(value) => value,
                None if self.options.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.scanner.next_char();
        match self.scanner.peek() {
            None => return Err(missing_brace()),
            Some('{' | '}' | ':') => {
                return Err(ShellError::BadSubstitution {
                    word: String::new(),
                })
            }
            Some(_) => {}
        }
        let name = self.process_name();
        let ch = self.scanner.next_char();
        let mut modifier = go_rune(ch);
        match ch {
            Some('}') => Ok(match self.get_env(&name) {
                Some(value) => value,
                None if self.options.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':') => {
                // BuildKit falls through to the modifiers whatever follows the colon.
                let op = self.scanner.next_char();
                modifier.push_str(&go_rune(op));
                self.process_modifier(&name, op, true, &modifier)
            }
            Some('+' | '-' | '?' | '#' | '%') => self.process_modifier(&name, ch, false, &modifier),
            Some('/') => self.process_replace(&name),
            _ => Err(unsupported(&modifier)),
        }
    }

    /// `${NAME-w}`, `${NAME+w}`, `${NAME?w}`, `${NAME#p}`, `${NAME%p}` and their `:` forms
    /// (`null_is_unset`: an empty value counts as unset).
    fn process_modifier(
        &mut self,
        name: &str,
        op: Option<char>,
        null_is_unset: bool,
        modifier: &str,
    ) -> Result<String, ShellError> {
        let trims = matches!(op, Some('#' | '%'));
        if null_is_unset && trims {
            return Err(unsupported(modifier));
        }
        let word = self.nested(Stop::Brace, trims)?;
        let value = self.get_env(name);
        if self.options.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}{modifier}{word}}}"));
        }
        let set = value.is_some();
        let value = value.unwrap_or_default();
        let unset_or_null = !set || (null_is_unset && value.is_empty());
        match op {
            Some('-') => Ok(if unset_or_null { word } else { value }),
            Some('+') => Ok(if unset_or_null { String::new() } else { word }),
            Some('?') => {
                let default = if !set {
                    "is not allowed to be unset"
                } else if null_is_unset && value.is_empty() {
                    "is not allowed to be empty"
                } else {
                    return Ok(value);
                };
                let message = if word.is_empty() {
                    default.to_owned()
                } else {
                    word
                };
                Err(ShellError::Required {
                    word: String::new(),
                    name: name.to_owned(),
                    message,
                })
            }
            Some(op @ ('#' | '%')) => {
                // `#`/`%` remove the shortest match, `##`/`%%` the longest.
                let (pattern, greed) = match word.strip_prefix(op) {
                    Some(rest) => (rest, Greed::Longest),
                    None => (word.as_str(), Greed::Shortest),
                };
                if op == '%' {
                    pattern::trim_suffix(pattern, &value, greed)
                } else {
                    pattern::trim_prefix(pattern, &value, greed)
                }
            }
            _ => Err(unsupported(modifier)),
        }
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`.
    fn process_replace(&mut self, name: &str) -> Result<String, ShellError> {
        let which = if self.scanner.peek() == Some('/') {
            self.scanner.next_char();
            Replace::All
        } else {
            Replace::First
        };
        let pattern = self.nested(Stop::Slash, true)?;
        let replacement = self.nested(Stop::Brace, true)?;
        let value = self.get_env(name);
        if self.options.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
        }
        let value = value.unwrap_or_default();
        let limit = self.options.max_expansion_bytes;
        pattern::replace(&pattern, &value, &replacement, which, limit)
    }

    /// A nested level inside `${...}`; any failure at the end of the word is reported as
    /// the missing terminator, as BuildKit does.
    fn nested(&mut self, stop: Stop, raw_escapes: bool) -> Result<String, ShellError> {
        if self.depth >= self.options.max_nesting {
            return Err(ShellError::NestingTooDeep {
                word: String::new(),
                limit: self.options.max_nesting,
            });
        }
        self.depth += 1;
        let level = self.process_stop_on(stop, raw_escapes);
        self.depth -= 1;
        match level {
            Ok(level) => Ok(level.word),
            Err(_) if self.scanner.at_end() => Err(match stop {
                Stop::Slash => ShellError::MissingPatternSlash {
                    word: String::new(),
                },
                Stop::Brace | Stop::End => missing_brace(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Expanded text may not outgrow the word by more than the limit.
    fn check_len(&self, text: &str) -> Result<(), ShellError> {
        if text.len() > self.max_len {
            return Err(ShellError::TooLarge {
                word: String::new(),
                limit: self.options.max_expansion_bytes,
            });
        }
        Ok(())
    }

    /// A variable name: letters, digits and `_`; or a run of digits (positional parameter);
    /// or one special parameter character (`@*#?-$!0`).
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.scanner.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(digit) = self.scanner.peek().filter(|&c| is_digit(c)) {
                    self.scanner.next_char();
                    name.push(digit);
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.scanner.next_char();
                return ch.to_string();
            }
            if !is_letter(ch) && !is_digit(ch) && ch != '_' {
                break;
            }
            self.scanner.next_char();
            name.push(ch);
        }
        name
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        let value = self.env.get(name).map(str::to_owned);
        if self.capture {
            let set = if value.is_some() {
                &mut self.matched
            } else {
                &mut self.unmatched
            };
            set.insert(name.to_owned());
        }
        value
    }
}

/// POSIX special parameters (never set in a Dockerfile).
fn is_special_param(ch: char) -> bool {
    matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

/// Go's `string(rune)`, where the end of input (`EOF`, -1) prints as U+FFFD.
fn go_rune(ch: Option<char>) -> String {
    ch.unwrap_or('\u{FFFD}').to_string()
}

fn missing_brace() -> ShellError {
    ShellError::MissingClosingBrace {
        word: String::new(),
    }
}

fn unsupported(modifier: &str) -> ShellError {
    ShellError::UnsupportedModifier {
        word: String::new(),
        modifier: modifier.to_owned(),
    }
}
