//! Why a build failed.

use crate::plan::PlanError;
use crate::stitch::StitchError;
use slipway_oci::export::ExportError;
use slipway_oci::registry::RegistryError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The Dockerfile was refused; `rendered` shows the error with its source lines.
    #[error("{rendered}")]
    Dockerfile { rendered: String },
    #[error("applying build settings to the graph: {0}")]
    Graph(#[from] slipway_graph::GraphError),
    #[error("{0}")]
    Solve(slipway_worker::SolveError),
    /// A step failed; `excerpt` shows its Dockerfile lines when known.
    #[error("{name}: {message}{}", excerpt.as_ref().map(|e| format!("\n{e}")).unwrap_or_default())]
    Step {
        name: String,
        message: String,
        excerpt: Option<String>,
    },
    #[error(transparent)]
    Stitch(#[from] StitchError),
    #[error("exporting to {dest}: {source}")]
    Export {
        dest: String,
        #[source]
        source: Box<ExportError>,
    },
    #[error("pushing to {repository}: {source}")]
    Push {
        repository: String,
        #[source]
        source: Box<RegistryError>,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("exporting cache to {target}: {message}")]
    CacheExport { target: String, message: String },
    #[error("{what} is not supported yet")]
    NotSupported { what: String },
    #[error("internal error: {what} task failed: {message}")]
    Task { what: &'static str, message: String },
    #[error("canceled")]
    Canceled,
}

impl From<slipway_worker::SolveError> for BuildError {
    fn from(e: slipway_worker::SolveError) -> Self {
        match e {
            slipway_worker::SolveError::Cancelled => BuildError::Canceled,
            other => BuildError::Solve(other),
        }
    }
}

pub(crate) fn io(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |source| BuildError::Io { op, path, source }
}
