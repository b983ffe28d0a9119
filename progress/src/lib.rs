//! Build progress: the events a solve emits (vertex started, log output, cached, done, error)
//! and their renderings. Events flow worker → coordinator → client; they are not Raft state.
//!
//! Invariant: plain data and rendering only; knows nothing of how vertices are executed.

mod event;

pub use event::{LogStream, ProgressEvent, VertexEvent, VertexStatus};
