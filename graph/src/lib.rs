//! slipway's build-graph IR (the "LLB" of slipway).
//!
//! A [`Graph`] is a set of content-addressed [`Vertex`] values: each vertex is one [`Op`]
//! (source, exec, file or merge) on its inputs, for one [`Platform`], identified by the
//! [`Digest`] of exactly (op, platform, input digests). Identical work is therefore one
//! vertex, also across the platforms of a multi-platform build. The graph's outputs name
//! each requested platform's root vertex and image config.
//!
//! Invariant: this crate knows nothing of Dockerfiles, tonic, Raft or IO.

pub mod digest;
pub mod entitlement;
pub mod error;
pub mod graph;
pub mod image;
pub mod op;
pub mod platform;
pub mod render;
pub mod vertex;

pub use digest::{Digest, DigestError};
pub use entitlement::{Entitlement, UnknownEntitlement};
pub use error::GraphError;
pub use graph::{Graph, GraphOutput};
pub use image::{Healthcheck, HistoryEntry, ImageConfig};
pub use op::{
    CacheSharing, Chmod, Chown, CopyAction, ExecOp, ExecOutput, FileAction, FileOp, GitSource,
    HttpSource, ImageSource, InputIndex, LocalContext, MergeOp, MkdirAction, MkfileAction, Mount,
    MountKind, NetworkMode, Op, RmAction, SecretEnv, SecurityMode, SourceOp, UserSpec,
};
pub use platform::{Platform, PlatformError};
pub use vertex::{Input, SourceLocation, Vertex};
