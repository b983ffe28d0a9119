//! slipway's build-graph IR (the "LLB" of slipway).
//!
//! Invariant: this crate knows nothing of Dockerfiles, tonic, Raft or IO.

pub mod platform;

pub use platform::{Platform, PlatformError};
