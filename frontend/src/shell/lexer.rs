//! The public face of word expansion: [`Lexer`] (BuildKit's `shell.Lex`).

use super::error::ShellError;
use super::expander::{Expander, Stop};
use super::{EnvGetter, Expansion};

/// BuildKit's `Lex` switches (all off by default, which is how Dockerfile instructions
/// expand their arguments), and two resource limits BuildKit does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexerOptions {
    /// Keep the quote characters in the result (`RawQuotes`).
    pub raw_quotes: bool,
    /// Keep escape tokens in the result (`RawEscapes`).
    pub raw_escapes: bool,
    /// Leave references to unset variables as written, e.g. `$FOO`, `${FOO:-x}`
    /// (`SkipUnsetEnv`).
    pub skip_unset_env: bool,
    /// Treat `'` and `"` as ordinary characters (`SkipProcessQuotes`).
    pub skip_process_quotes: bool,
    /// How deep `${...}` may nest (default 100); deeper fails with
    /// [`ShellError::NestingTooDeep`].
    pub max_nesting: usize,
    /// How many bytes longer than the word itself its expansion, or any `${...}` result
    /// inside it, may grow (default 16 MiB); longer fails with [`ShellError::TooLarge`].
    pub max_expansion_bytes: usize,
}

impl LexerOptions {
    pub const DEFAULT_MAX_NESTING: usize = 100;
    pub const DEFAULT_MAX_EXPANSION_BYTES: usize = 16 << 20;
}

impl Default for LexerOptions {
    fn default() -> Self {
        Self {
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
            skip_process_quotes: false,
            max_nesting: Self::DEFAULT_MAX_NESTING,
            max_expansion_bytes: Self::DEFAULT_MAX_EXPANSION_BYTES,
        }
    }
}

/// Expands shell words exactly as BuildKit's `frontend/dockerfile/shell` lexer does.
///
/// A `Lexer` holds no state between calls; it can be shared freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    /// The switches; see [`LexerOptions`].
    pub options: LexerOptions,
}

impl Default for Lexer {
    fn default() -> Self {
        Self::new(Self::DEFAULT_ESCAPE)
    }
}

impl Lexer {
    /// The escape token of a Dockerfile without an `# escape=` directive.
    pub const DEFAULT_ESCAPE: char = '\\';

    /// A lexer with the file's escape token (`\` or `` ` ``) and default options.
    pub fn new(escape: char) -> Self {
        Self::with_options(escape, LexerOptions::default())
    }

    /// A lexer with the given escape token and options.
    pub fn with_options(escape: char, options: LexerOptions) -> Self {
        Self { escape, options }
    }

    /// The escape token.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// Expands `word` without splitting it (BuildKit's `ProcessWordWithMatches`) and reports
    /// which variables it referenced: `matched` were set in `env`, `unmatched` were not.
    pub fn process_word(&self, word: &str, env: &dyn EnvGetter) -> Result<Expansion, ShellError> {
        let mut expander = Expander::new(word, self.escape, self.options, env, true);
        let level = expander
            .process_stop_on(Stop::End, self.options.raw_escapes)
            .map_err(|e| e.with_word(word))?;
        Ok(Expansion {
            result: level.word,
            matched: expander.matched,
            unmatched: expander.unmatched,
        })
    }

    /// Expands `word` and splits the result into words at unquoted whitespace
    /// (BuildKit's `ProcessWords`). Splitting happens after expansion, so whitespace inside
    /// an unquoted variable's value splits too.
    pub fn process_words(
        &self,
        word: &str,
        env: &dyn EnvGetter,
    ) -> Result<Vec<String>, ShellError> {
        let mut expander = Expander::new(word, self.escape, self.options, env, false);
        let level = expander
            .process_stop_on(Stop::End, self.options.raw_escapes)
            .map_err(|e| e.with_word(word))?;
        Ok(level.words)
    }
}
