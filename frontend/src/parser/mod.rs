//! BuildKit's Dockerfile parser (`frontend/dockerfile/parser`), behaviour for behaviour:
//! parser directives, escape token, line continuations, comments, per-instruction argument
//! parsing (JSON exec form with shell-form fallback, `name=value` lists, ONBUILD nesting,
//! HEALTHCHECK), builder flags, heredocs, and the `Node.Dump()` format.
//!
//! Entry points: [`parse`] (source text to [`ParseResult`]), [`dump`], and
//! [`Directives::check_syntax`] to refuse frontends other than the built-in one.

mod directives;
mod dump;
mod error;
mod heredoc;
mod heredoc_lex;
mod json;
mod line_parsers;
mod node;
mod parse;
mod quote;
mod scanner;
mod split_command;
mod text;
mod words;

pub use directives::{detect_directive, is_builtin_frontend};
pub use dump::dump;
pub use error::{LexError, ParseError};
pub use heredoc::{chomp_heredoc_content, parse_heredoc, HeredocError};
pub use node::{Directives, Heredoc, Node, ParseResult, Warning};
pub use parse::{parse, DEFAULT_ESCAPE_TOKEN};
pub use quote::go_quote;

#[cfg(test)]
mod tests;
