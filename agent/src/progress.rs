//! Progress of the tasks: each solve's events are counted (cached and executed vertices for
//! the task result), tagged with the worker and the task, and forwarded to the coordinators
//! over one long-lived `Progress` stream, reopened on the next coordinator when it breaks.
//!
//! Progress is best effort (it is not replicated state): when the forwarding queue is full
//! or a stream breaks, events are dropped, never the solve slowed down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use slipway_farm::{TaskId, WorkerId};
use slipway_progress::{ProgressEvent, VertexStatus};
use slipway_proto::v1::ProgressReport;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::Backoff;
use super::coordinators::{sleep, Coordinators};

/// Reports queued for the coordinators at most.
pub const QUEUE: usize = 4096;

/// Vertices answered from the cache and executed, counted from a solve's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VertexCounts {
    pub cached: u32,
    pub executed: u32,
}

impl VertexCounts {
    pub fn count(&mut self, event: &ProgressEvent) {
        if let ProgressEvent::Vertex(v) = event {
            match v.status {
                VertexStatus::Cached => self.cached += 1,
                VertexStatus::Done { .. } => self.executed += 1,
                _ => {}
            }
        }
    }
}

/// Where the events of one task go.
#[derive(Debug, Clone)]
pub struct TaskProgress {
    pub task: TaskId,
    pub worker: WorkerId,
    pub out: mpsc::Sender<ProgressReport>,
    pub dropped: Arc<AtomicU64>,
}

impl TaskProgress {
    /// Tags `event` with the worker and queues it; drops it when the queue is full.
    pub fn send(&self, mut event: ProgressEvent) {
        if let ProgressEvent::Vertex(v) = &mut event {
            v.worker = Some(self.worker.to_string());
        }
        let Ok(event_json) = serde_json::to_vec(&event) else {
            return;
        };
        let report = ProgressReport {
            task_id: self.task.to_string(),
            worker_id: self.worker.to_string(),
            event_json,
        };
        if self.out.try_send(report).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Consumes a solve's events until its sender is dropped; returns the counts.
    pub async fn pump(self, mut events: mpsc::Receiver<ProgressEvent>) -> VertexCounts {
        let mut counts = VertexCounts::default();
        while let Some(event) = events.recv().await {
            counts.count(&event);
            self.send(event);
        }
        counts
    }
}

/// Forwards `reports` to the coordinators until `reports` closes or `cancel` fires.
pub async fn forward(
    coordinators: Arc<Coordinators>,
    mut reports: mpsc::Receiver<ProgressReport>,
    cancel: CancellationToken,
) {
    let mut backoff = Backoff::new(coordinators.timings());
    let mut pending: Option<ProgressReport> = None;
    loop {
        let first = match pending.take() {
            Some(r) => r,
            None => tokio::select! {
                r = reports.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
                _ = cancel.cancelled() => return,
            },
        };
        let (index, mut client) = coordinators.client();
        let (tx, rx) = mpsc::channel::<ProgressReport>(256);
        if let Err(e) = tx.try_send(first) {
            pending = Some(e.into_inner());
            continue;
        }
        let mut call = tokio::spawn(async move {
            client
                .progress(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
        });
        let ended = loop {
            tokio::select! {
                r = reports.recv() => match r {
                    Some(r) => {
                        if let Err(e) = tx.send(r).await {
                            pending = Some(e.0);
                            break (&mut call).await;
                        }
                    }
                    None => {
                        drop(tx);
                        let _ = call.await;
                        return;
                    }
                },
                r = &mut call => break r,
                _ = cancel.cancelled() => {
                    call.abort();
                    return;
                }
            }
        };
        match ended {
            Ok(Ok(_)) => backoff.reset(),
            Ok(Err(status)) => {
                tracing::debug!(coordinator = coordinators.addr(index), code = ?status.code(),
                    message = status.message(), "progress stream ended");
                coordinators.failed(index);
            }
            Err(e) => tracing::warn!(error = %e, "progress stream task failed"),
        }
        if sleep(backoff.next_wait(), &cancel).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_graph::{Digest, Platform};
    use slipway_progress::VertexEvent;

    fn vertex(status: VertexStatus) -> ProgressEvent {
        ProgressEvent::Vertex(VertexEvent {
            vertex: Digest::of_bytes(b"v"),
            name: "RUN true".into(),
            platform: Platform::linux("amd64", ""),
            worker: None,
            status,
            timestamp_ms: 0,
        })
    }

    #[tokio::test]
    async fn pump_counts_and_tags_events() {
        let (out, mut reports) = mpsc::channel(8);
        let task = TaskId::new();
        let p = TaskProgress {
            task,
            worker: "w-1".parse().unwrap(),
            out,
            dropped: Arc::default(),
        };
        let (tx, rx) = mpsc::channel(8);
        for s in [
            VertexStatus::Started,
            VertexStatus::Cached,
            VertexStatus::Done { duration_ms: 3 },
            VertexStatus::Done { duration_ms: 4 },
        ] {
            tx.send(vertex(s)).await.unwrap();
        }
        drop(tx);
        let counts = p.pump(rx).await;
        assert_eq!(
            counts,
            VertexCounts {
                cached: 1,
                executed: 2
            }
        );
        let first = reports.recv().await.unwrap();
        assert_eq!(first.task_id, task.to_string());
        assert_eq!(first.worker_id, "w-1");
        let event: ProgressEvent = serde_json::from_slice(&first.event_json).unwrap();
        match event {
            ProgressEvent::Vertex(v) => assert_eq!(v.worker.as_deref(), Some("w-1")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        let (out, _reports) = mpsc::channel(1);
        let p = TaskProgress {
            task: TaskId::new(),
            worker: "w".parse().unwrap(),
            out,
            dropped: Arc::default(),
        };
        p.send(vertex(VertexStatus::Started));
        p.send(vertex(VertexStatus::Cached));
        assert_eq!(p.dropped.load(Ordering::Relaxed), 1);
    }
}
