//! slipway's build service: the farm's coordinator ([`farm`]: Raft or in-memory state, the
//! planner, the scheduler, the leader controller and its stitcher). Every build runs
//! through it, a farm's and the one-process farm of `slipway build` without `--builder`.
//!
//! Besides the farm: [`output`] values are parsed and [`plan`]ned before any work; the
//! Dockerfile is lowered by the frontend with base images resolved from registries
//! ([`resolver`]); `--network` and `--label` are applied to the graph ([`graph_edit`]);
//! [`export`] writes a result's file outputs.
//!
//! Invariant: decisions (output parsing, export plans, planning, placement, stitching) are
//! pure functions; IO lives in [`farm::node`], [`export`] and [`resolver`].

pub mod error;
pub mod excerpt;
pub mod export;
pub mod farm;
pub mod graph_edit;
pub mod output;
pub mod plan;
pub mod resolver;
mod tar_merge;

/// The local name of a build's main context.
pub const MAIN_CONTEXT: &str = "context";

pub use error::BuildError;
pub use output::{parse_output, Dest, OutputError, OutputKind, OutputSpec};
pub use plan::{plan_exports, ExportPlan, FileExport, PlanError, PushTarget};
pub use resolver::RegistryResolver;
