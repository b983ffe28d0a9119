//! Build progress: the events a solve emits (vertex started, log output, cached, done, error)
//! and their renderings: BuildKit's plain lines, a live tty view, rawjson (`StatusResponse`
//! objects), quiet. Events flow worker → coordinator → client; they are not Raft state.
//!
//! Invariant: plain data and rendering only; knows nothing of how vertices are executed.

mod event;
mod mode;
mod numbering;
mod plain;
mod rawjson;
#[cfg(test)]
mod testdata;
mod time;
mod tty;

pub use event::{LogStream, ProgressEvent, VertexEvent, VertexInputs, VertexStatus};
pub use mode::{ModeError, ProgressMode, Renderer};
pub use plain::PlainRenderer;
pub use rawjson::RawJsonRenderer;
pub use time::rfc3339_nano;
pub use tty::TtyRenderer;
