//! BuildKit's Dockerfile parser (`frontend/dockerfile/parser`).

mod node;

pub use node::{Directives, Heredoc, Node, ParseResult, Warning};
