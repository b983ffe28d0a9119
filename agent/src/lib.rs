//! The worker process's farm agent: it registers this worker with the coordinators, keeps
//! its lease, receives task assignments and runs them on the [`Worker`](slipway_worker::Worker).
//!
//! - [`Agent::run`] (`run`): the agent until cancelled.
//! - `coordinators`: gRPC clients, retried on the next coordinator when one fails.
//! - `lease`: `Register`/`Renew`; `assignments`: the `Assignments` stream.
//! - `slots`: which tasks are held (running ≤ slots, queued, duplicates ignored).
//! - `runner` and `task`: one task — context, solve, push by digest, `Finish`.
//! - `blobs`: the QUIC data plane over the content store and context fetches from peers;
//!   [`unpack`]: safe context unpacking; `push`: the push plan of one image.
//! - `progress`: solve events, tagged and streamed to the coordinators.
//!
//! Nothing here is replicated state: the coordinators' leader decides; the agent reports.

mod assignments;
mod blobs;
mod config;
mod context;
mod context_dirs;
mod coordinators;
mod error;
mod farm_cache;
mod gc;
pub mod gc_orders;
mod lease;
mod progress;
mod push;
mod run;
mod runner;
mod secrets;
mod shared;
mod slots;
mod ssh;
mod stage_inputs;
mod task;
mod task_cache;
pub mod unpack;

#[cfg(test)]
mod fake_coordinator;
#[cfg(test)]
mod fake_coordinator_test;
#[cfg(test)]
mod farm_cache_tests;

pub use config::{AgentConfig, AgentTimings};
pub use error::{AgentError, TaskError};
pub use run::Agent;
