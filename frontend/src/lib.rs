//! The Dockerfile frontend: parses Dockerfiles exactly as BuildKit does and lowers them to
//! the graph IR.
//!
//! Invariant: this crate emits `slipway_graph` values and nothing else; it does no IO beyond
//! the bytes handed to it, and knows nothing of workers, Raft or registries.

pub mod error;
mod gopath;
pub mod instructions;
pub mod lower;
pub mod parser;
pub mod shell;

pub use error::FrontendError;
pub use lower::{
    lower, lower_file, lower_parsed, ImageMeta, ImageMetaResolver, LowerError, LowerErrorKind,
    LowerOptions, NamedContext, NoBaseConfig, ResolveError, StaticResolver,
};
