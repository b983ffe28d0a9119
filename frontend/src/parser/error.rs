//! Errors of the Dockerfile parser. Messages follow BuildKit's wording; every variant carries
//! the 1-based source line(s) so the caller can print `Dockerfile:12: <message>`.

use super::quote::go_quote;

/// Why a Dockerfile could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but blank lines, comments and directives (line = last line read, 0 if empty).
    #[error("file with no instructions")]
    NoInstructions { line: usize },

    /// The same parser directive twice at the top of the file.
    #[error("only one {name} parser directive can be used")]
    DuplicateDirective { line: usize, name: String },

    /// `# escape=` with something other than a backslash or a backtick.
    #[error("invalid escape token '{token}' does not match ` or \\")]
    InvalidEscapeToken { line: usize, token: String },

    /// One physical line longer than Go's `bufio.Scanner` accepts (64 KiB with its newline).
    #[error("dockerfile line greater than max allowed size of 65535")]
    LineTooLong { line: usize },

    /// A heredoc whose terminator line never came.
    #[error("unterminated heredoc")]
    UnterminatedHeredoc { start_line: usize, end_line: usize },

    /// `ENV name` / `LABEL name` in the legacy form without a value.
    #[error("{instruction} must have two arguments")]
    MissingValue {
        start_line: usize,
        end_line: usize,
        instruction: &'static str,
    },

    /// A `name=value` list (ENV, LABEL) with a word lacking `=`.
    #[error("Syntax error - can't find = in {}. Must be of the form: name=value", go_quote(.word))]
    MissingEquals {
        start_line: usize,
        end_line: usize,
        word: String,
    },

    /// A valid JSON array holding something else than strings (numbers, nested arrays...).
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    JsonNotStringArray { start_line: usize, end_line: usize },

    /// A heredoc word (`<<"EOF`) that the shell lexer rejects.
    #[error("failed to process {}: {reason}", go_quote(.word))]
    HeredocWord {
        start_line: usize,
        end_line: usize,
        word: String,
        reason: LexError,
    },

    /// The heredoc word split differently with and without quote removal.
    #[error("internal lexing of heredoc produced inconsistent results: {word}")]
    HeredocInconsistent {
        start_line: usize,
        end_line: usize,
        word: String,
    },

    /// A `# syntax=` directive naming a frontend image other than the Dockerfile frontend.
    #[error(
        "unsupported syntax directive {}: slipway only runs its built-in Dockerfile frontend \
         (docker/dockerfile:1); custom frontend images are not supported, remove the \
         `# syntax=` line or use docker/dockerfile:1",
        go_quote(.syntax)
    )]
    UnsupportedSyntax { line: usize, syntax: String },
}

impl ParseError {
    /// The first source line the error is about (1-based; 0 for an empty file).
    pub fn line(&self) -> usize {
        self.lines().0
    }

    /// First and last source line the error is about (equal for single-line errors).
    pub fn lines(&self) -> (usize, usize) {
        match self {
            ParseError::NoInstructions { line }
            | ParseError::DuplicateDirective { line, .. }
            | ParseError::InvalidEscapeToken { line, .. }
            | ParseError::LineTooLong { line }
            | ParseError::UnsupportedSyntax { line, .. } => (*line, *line),
            ParseError::UnterminatedHeredoc {
                start_line,
                end_line,
            }
            | ParseError::MissingValue {
                start_line,
                end_line,
                ..
            }
            | ParseError::MissingEquals {
                start_line,
                end_line,
                ..
            }
            | ParseError::JsonNotStringArray {
                start_line,
                end_line,
            }
            | ParseError::HeredocWord {
                start_line,
                end_line,
                ..
            }
            | ParseError::HeredocInconsistent {
                start_line,
                end_line,
                ..
            } => (*start_line, *end_line),
        }
    }
}

/// Errors of the shell-word lexer used to find heredoc delimiters (BuildKit's `shell.Lex`
/// messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    #[error("unexpected end of statement while looking for matching {0}")]
    UnexpectedEnd(char),
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    #[error("unsupported modifier ({modifier}) in substitution")]
    UnsupportedModifier { modifier: String },
}

/// What a line parser can fail with; located by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineError {
    MissingValue(&'static str),
    MissingEquals(String),
    JsonNotStringArray,
}

impl LineError {
    pub(crate) fn at(self, start_line: usize, end_line: usize) -> ParseError {
        match self {
            LineError::MissingValue(instruction) => ParseError::MissingValue {
                start_line,
                end_line,
                instruction,
            },
            LineError::MissingEquals(word) => ParseError::MissingEquals {
                start_line,
                end_line,
                word,
            },
            LineError::JsonNotStringArray => ParseError::JsonNotStringArray {
                start_line,
                end_line,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_buildkit() {
        let e = ParseError::MissingEquals {
            start_line: 3,
            end_line: 4,
            word: "a\"b".into(),
        };
        assert_eq!(
            e.to_string(),
            r#"Syntax error - can't find = in "a\"b". Must be of the form: name=value"#
        );
        assert_eq!(e.line(), 3);
        assert_eq!(e.lines(), (3, 4));
        let e = ParseError::InvalidEscapeToken {
            line: 1,
            token: "x".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid escape token 'x' does not match ` or \\"
        );
        assert_eq!(
            LexError::MissingBrace.to_string(),
            "syntax error: missing '}'"
        );
        assert_eq!(
            LexError::MissingSlash.to_string(),
            "syntax error: missing '/' in ${}"
        );
    }
}
