//! The farm: coordinators replicating builds, tasks and workers with Raft, a pure planner
//! and scheduler, and the coordinator process serving the Control and Worker APIs.
//!
//! **Invariant:** openraft is only used inside [`raft`]; decisions (planning, placement,
//! state transitions) are pure code that takes `now` and returns commands.
pub mod node;
pub mod planner;
pub mod raft;
pub mod scheduler;
pub mod state;
pub mod store;
