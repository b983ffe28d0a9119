//! The farm's domain types, shared by the coordinator, the workers, the CLI and the wire
//! contracts in `slipway-proto`.
//!
//! Everything here is plain serde data: no IO, no async, no tonic, no Raft. The coordinator's
//! replicated state machine stores these values; `slipway-proto` converts them to and from
//! wire messages in one place.
//!
//! **Invariant:** this crate knows nothing of openraft, tonic, QUIC or Dockerfiles.

mod build;
pub mod cache;
mod error;
mod failure;
mod ids;
mod task;
mod worker;

pub use build::{
    BuildSpec, BuildState, BuildSummary, ContextKind, ContextRef, NamedContext, PushTarget,
};
pub use error::FarmError;
pub use failure::{Failure, StepFailure};
pub use ids::{BuildId, NodeId, TaskId, WorkerId};
pub use task::{BlobDescriptor, TaskKind, TaskResult, TaskSpec, TaskState};
pub use worker::{Lease, Placement, PlatformSupport, WorkerSpec};
