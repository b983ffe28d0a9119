use serde::{Deserialize, Serialize};
use slipway_graph::{Digest, Platform};

/// One progress event of a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// A vertex changed state.
    Vertex(VertexEvent),
    /// Output of a running vertex.
    Log {
        vertex: Digest,
        stream: LogStream,
        /// Milliseconds since the unix epoch.
        timestamp_ms: i64,
        data: Vec<u8>,
    },
    /// A non-fatal message about the build (e.g. a lint warning).
    Warning {
        vertex: Option<Digest>,
        message: String,
    },
    /// The build graph's edges, sent before its vertices run, so that renderers can show
    /// each vertex's inputs (rawjson's `inputs`). Renders nothing by itself.
    Graph { vertices: Vec<VertexInputs> },
}

/// One vertex and the vertices it takes as inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VertexInputs {
    pub vertex: Digest,
    pub inputs: Vec<Digest>,
}

/// A vertex's state change. `name` is what progress shows (`[linux/arm64 build 2/5] RUN make`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VertexEvent {
    pub vertex: Digest,
    pub name: String,
    pub platform: Platform,
    /// The worker that runs it (`worker-2`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    pub status: VertexStatus,
    /// Milliseconds since the unix epoch.
    pub timestamp_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum VertexStatus {
    Started,
    Cached,
    /// Finished; `duration_ms` of work.
    Done {
        duration_ms: u64,
    },
    /// Failed with this message (e.g. `process "/bin/sh -c false" did not complete successfully: exit code: 1`).
    Error {
        message: String,
    },
    /// Cancelled before it finished.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}
