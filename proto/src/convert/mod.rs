//! Conversions between the `slipway-farm` domain types and the `slipway.v1` wire messages:
//! `From<farm::X> for v1::X` and `TryFrom<v1::X> for farm::X` (the latter validates ids,
//! platforms, digests, JSON and required fields, failing with [`ProtoError`]).
//!
//! | farm type | wire type | farm → wire | wire → farm |
//! |---|---|---|---|
//! | `PlatformSupport`, `WorkerSpec` | same names | `From` | `TryFrom` |
//! | `Placement` | `v1::Placement` (an `i32` field) | `From` | [`placement`] |
//! | `ContextRef`, `BuildSpec`, `BuildState`, `BuildSummary` | same names | `From` | `TryFrom` |
//! | `PushTarget` | `v1::PushTarget` | `From` | `From` |
//! | `BlobDescriptor`, `TaskResult`, `TaskState` | same names | `From` | `TryFrom` |
//! | `TaskSpec` | `v1::TaskSpec` (graph as JSON) | `TryFrom` | `TryFrom` |
//! | `cache::{CacheLayer, CacheRecord, CacheImport, CacheExport}` | same names | `From` | `TryFrom` |
//!
//! [`task_info`] builds a `v1::TaskInfo`; [`parse`] parses single request fields (ids,
//! platforms, digests); [`messages`] holds parsed forms of request/response messages
//! (`Assignment`, `TaskOutcome`, ...). `farm::Lease` is leader memory and has no wire form.

mod build;
pub mod cache;
mod error;
pub mod failure;
pub mod messages;
pub mod parse;
mod task;
mod worker;

pub use error::ProtoError;
pub use task::{task_info, task_kind};
pub use worker::placement;
