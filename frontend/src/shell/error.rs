//! Errors of word expansion. Each message reads as BuildKit's does:
//! `failed to process "<word>": <reason>`.

use super::chars::go_quote;

/// Why a word could not be expanded. `word` is the whole word handed to the lexer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    /// `${` without its closing `}` (`${FOO`, `${FOO:-x`).
    #[error("failed to process {}: syntax error: missing '}}'", go_quote(.word))]
    MissingClosingBrace { word: String },

    /// `${}`, `${{..}`, `${:..}`.
    #[error("failed to process {}: syntax error: bad substitution", go_quote(.word))]
    BadSubstitution { word: String },

    /// `${VAR/pattern` with no `/` before the end of the word.
    #[error("failed to process {}: syntax error: missing '/' in ${{}}", go_quote(.word))]
    MissingPatternSlash { word: String },

    /// A `'` that is never closed.
    #[error(
        "failed to process {}: unexpected end of statement while looking for matching single-quote",
        go_quote(.word)
    )]
    UnterminatedSingleQuote { word: String },

    /// A `"` that is never closed.
    #[error(
        "failed to process {}: unexpected end of statement while looking for matching double-quote",
        go_quote(.word)
    )]
    UnterminatedDoubleQuote { word: String },

    /// `${VAR?message}` with `VAR` unset, or `${VAR:?message}` with `VAR` unset or empty.
    #[error("failed to process {}: {name}: {message}", go_quote(.word))]
    Required {
        word: String,
        name: String,
        message: String,
    },

    /// A modifier BuildKit does not support (`${VAR:=x}`, `${VAR:#x}`, `${VAR.}`, ...).
    /// `modifier` is the text after the name, as BuildKit prints it (an end of input shows as
    /// U+FFFD, Go's rendering of its EOF rune).
    #[error("failed to process {}: unsupported modifier ({modifier}) in substitution", go_quote(.word))]
    UnsupportedModifier { word: String, modifier: String },

    /// A `#`, `%` or `/` pattern with a `\` before something other than `*`, `?`, `\`, `}`
    /// or `/`. `escaped` is that character (`None`: the pattern ended after the `\`).
    #[error(
        "failed to process {}: invalid pattern ({pattern}) in substitution: invalid escape '\\{}'",
        go_quote(.word),
        .escaped.unwrap_or('\u{FFFD}')
    )]
    InvalidPattern {
        word: String,
        pattern: String,
        escaped: Option<char>,
    },

    /// `${...}` nested deeper than [`LexerOptions::max_nesting`](super::LexerOptions) levels.
    /// BuildKit has no such limit; slipway has one so a hostile word cannot exhaust the stack.
    #[error("failed to process {}: ${{...}} nested deeper than {limit} levels", go_quote(.word))]
    NestingTooDeep { word: String, limit: usize },

    /// An expansion longer than [`LexerOptions::max_expansion_bytes`](super::LexerOptions).
    /// BuildKit has no such limit; nested `${VAR//p/r}` grow exponentially and sibling
    /// expansions add up, so slipway bounds them.
    #[error("failed to process {}: expansion larger than {limit} bytes", go_quote(.word))]
    TooLarge { word: String, limit: usize },
}

impl ShellError {
    /// The word whose expansion failed.
    pub fn word(&self) -> &str {
        match self {
            Self::MissingClosingBrace { word }
            | Self::BadSubstitution { word }
            | Self::MissingPatternSlash { word }
            | Self::UnterminatedSingleQuote { word }
            | Self::UnterminatedDoubleQuote { word }
            | Self::Required { word, .. }
            | Self::UnsupportedModifier { word, .. }
            | Self::InvalidPattern { word, .. }
            | Self::NestingTooDeep { word, .. }
            | Self::TooLarge { word, .. } => word,
        }
    }

    /// Sets the word (errors are raised deep in the expansion and named at the top).
    pub(crate) fn with_word(mut self, source: &str) -> Self {
        let slot = match &mut self {
            Self::MissingClosingBrace { word }
            | Self::BadSubstitution { word }
            | Self::MissingPatternSlash { word }
            | Self::UnterminatedSingleQuote { word }
            | Self::UnterminatedDoubleQuote { word }
            | Self::Required { word, .. }
            | Self::UnsupportedModifier { word, .. }
            | Self::InvalidPattern { word, .. }
            | Self::NestingTooDeep { word, .. }
            | Self::TooLarge { word, .. } => word,
        };
        source.clone_into(slot);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_buildkit() {
        let e = ShellError::MissingClosingBrace {
            word: String::new(),
        }
        .with_word("he${PWD:-x");
        assert_eq!(
            e.to_string(),
            r#"failed to process "he${PWD:-x": syntax error: missing '}'"#
        );
        assert_eq!(e.word(), "he${PWD:-x");
        let e = ShellError::Required {
            word: "${A?}".into(),
            name: "A".into(),
            message: "is not allowed to be unset".into(),
        };
        assert_eq!(
            e.to_string(),
            r#"failed to process "${A?}": A: is not allowed to be unset"#
        );
        let e = ShellError::MissingPatternSlash { word: "x".into() };
        assert_eq!(
            e.to_string(),
            r#"failed to process "x": syntax error: missing '/' in ${}"#
        );
        let e = ShellError::InvalidPattern {
            word: "w".into(),
            pattern: "a\\".into(),
            escaped: None,
        };
        assert_eq!(
            e.to_string(),
            "failed to process \"w\": invalid pattern (a\\) in substitution: invalid escape '\\\u{FFFD}'"
        );
    }
}
