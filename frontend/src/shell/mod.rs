//! BuildKit's shell word expansion (`frontend/dockerfile/shell`): quoting, escapes,
//! `$VAR` / `${VAR...}` forms, and word splitting.
//!
//! Interface (kept stable for the instruction layer):
//! - [`Lexer::new`] with the file's escape token.
//! - [`Lexer::process_word`] expands one word (no splitting) and reports which variables it
//!   referenced (`matched` = set in env, `unmatched` = referenced but unset).
//! - [`Lexer::process_words`] expands and splits into words (as `ProcessWords`).
//!
//! Everything BuildKit's lexer does is reproduced, quirks included (they are listed where
//! they live: `words` for the splitting buffer shared across nesting levels, `pattern` for
//! glob matching, `expander` for the `${...}` forms).

use std::collections::BTreeSet;

mod chars;
mod error;
mod expander;
mod lexer;
mod pattern;
mod scanner;
mod words;

#[cfg(test)]
mod tests;

pub use error::ShellError;
pub use lexer::{Lexer, LexerOptions};

/// What the expander looks variables up in.
pub trait EnvGetter {
    fn get(&self, key: &str) -> Option<&str>;
}

impl EnvGetter for std::collections::BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        std::collections::BTreeMap::get(self, key).map(String::as_str)
    }
}

impl EnvGetter for std::collections::HashMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        std::collections::HashMap::get(self, key).map(String::as_str)
    }
}

/// An ordered `KEY=VALUE` list (last definition wins), the form images carry their Env in.
impl EnvGetter for [(String, String)] {
    fn get(&self, key: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl EnvGetter for Vec<(String, String)> {
    fn get(&self, key: &str) -> Option<&str> {
        EnvGetter::get(self.as_slice(), key)
    }
}

impl<T: EnvGetter + ?Sized> EnvGetter for &T {
    fn get(&self, key: &str) -> Option<&str> {
        (**self).get(key)
    }
}

/// An environment with nothing set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoEnv;

impl EnvGetter for NoEnv {
    fn get(&self, _key: &str) -> Option<&str> {
        None
    }
}

/// The result of expanding one word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    pub result: String,
    /// Variables referenced that were set.
    pub matched: BTreeSet<String>,
    /// Variables referenced that were not set.
    pub unmatched: BTreeSet<String>,
}
