//! Emitting progress events for vertices.

use std::time::{SystemTime, UNIX_EPOCH};

use slipway_graph::{Digest, Vertex};
use slipway_progress::{LogStream, ProgressEvent, VertexEvent, VertexStatus};
use tokio::sync::mpsc;

/// The sending side of a solve's progress; a closed receiver is ignored.
#[derive(Clone)]
pub(crate) struct Progress {
    tx: mpsc::Sender<ProgressEvent>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Progress {
    pub fn new(tx: mpsc::Sender<ProgressEvent>) -> Progress {
        Progress { tx }
    }

    pub async fn vertex(&self, digest: &Digest, vertex: &Vertex, status: VertexStatus) {
        let event = ProgressEvent::Vertex(VertexEvent {
            vertex: digest.clone(),
            name: display_name(digest, vertex),
            platform: vertex.platform.clone(),
            worker: None,
            status,
            timestamp_ms: now_ms(),
        });
        let _ = self.tx.send(event).await;
    }

    pub async fn log(&self, digest: &Digest, stream: LogStream, data: Vec<u8>) {
        let event = ProgressEvent::Log {
            vertex: digest.clone(),
            stream,
            timestamp_ms: now_ms(),
            data,
        };
        let _ = self.tx.send(event).await;
    }

    pub async fn warning(&self, vertex: Option<&Digest>, message: String) {
        let event = ProgressEvent::Warning {
            vertex: vertex.cloned(),
            message,
        };
        let _ = self.tx.send(event).await;
    }
}

/// The vertex's name, or its kind and short digest when it has none.
pub(crate) fn display_name(digest: &Digest, vertex: &Vertex) -> String {
    if vertex.name.is_empty() {
        format!("{} {}", vertex.op.kind(), digest.short())
    } else {
        vertex.name.clone()
    }
}
