//! slipway's build service. In embedded mode the CLI runs it in-process with one worker;
//! the farm will put the same planning and stitching behind Raft.
//!
//! A build: [`output`] values are parsed and [`plan`]ned before any work; the Dockerfile is
//! lowered by the frontend with base images resolved from registries ([`resolver`]);
//! `--network` and `--label` are applied to the graph ([`graph_edit`]); the worker solves
//! it; the per-platform images are [`stitch`]ed (an index for several platforms) and
//! exported or pushed (per-platform manifests by digest, then the index, tags last).
//!
//! Invariant: decisions (output parsing, export plans, stitching) are pure functions; IO
//! lives in [`coordinator`], [`export`] and [`resolver`].

mod cache_io;
pub mod coordinator;
pub mod error;
mod excerpt;
pub mod export;
pub mod farm;
pub mod graph_edit;
pub mod metadata;
pub mod output;
pub mod plan;
pub mod request;
pub mod resolver;
pub mod stitch;
mod tar_merge;

pub use coordinator::{Coordinator, MAIN_CONTEXT};
pub use error::BuildError;
pub use metadata::{BuildResult, PlatformImage};
pub use output::{parse_output, Dest, OutputError, OutputKind, OutputSpec};
pub use plan::{plan_exports, ExportPlan, FileExport, PlanError, PushTarget};
pub use request::{BuildRequest, NamedContextSource, SecretSource, SshSource};
pub use resolver::RegistryResolver;
