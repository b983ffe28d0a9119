//! `Watch` streams on the leader: the build's summary and every task first, then progress
//! reports from the workers (through [`super::progress::ProgressHub`]) and each change of
//! the build or of a task as the replicated state applies it; the stream ends after the
//! build's final state was sent.

use super::error::NodeError;
use super::shared::Shared;
use super::views::task_info;
use slipway_farm::BuildId;
use slipway_proto::v1;
use slipway_proto::v1::build_event::Event;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::Status;

/// What a Watch call returns.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<v1::BuildEvent, Status>> + Send>>;

/// Events queued for a slow client before the watcher waits.
const DEPTH: usize = 256;

/// Starts watching `build`; fails at once when the build is not known.
pub fn watch_build(s: Arc<Shared>, build: BuildId) -> Result<EventStream, NodeError> {
    if s.raft.read(|st| st.build(&build).is_none()) {
        return Err(NodeError::BuildNotFound { build });
    }
    let (missed, progress) = s.progress.subscribe(build);
    let (tx, rx) = mpsc::channel(DEPTH);
    tokio::spawn(run(s, build, missed, progress, tx));
    Ok(Box::pin(ReceiverStream::new(rx)))
}

fn event(e: Event) -> Result<v1::BuildEvent, Status> {
    Ok(v1::BuildEvent { event: Some(e) })
}

/// The build's summary and tasks now, and whether the build is final.
fn snapshot(s: &Shared, build: &BuildId) -> Option<(v1::BuildSummary, Vec<v1::TaskInfo>, bool)> {
    s.raft.read(|st| {
        let summary = st.build_summary(build)?;
        let last = summary.state.is_final();
        let tasks = st.tasks_of(build).into_iter().map(task_info).collect();
        Some((v1::BuildSummary::from(summary), tasks, last))
    })
}

/// A `Graph` progress event over every vertex of the build's tasks (their inputs), as a
/// report of no task and no worker.
fn graph_event(s: &Shared, build: &BuildId) -> Option<v1::ProgressReport> {
    let vertices = s.raft.read(|st| {
        let mut inputs = std::collections::BTreeMap::new();
        for task in st.tasks_of(build) {
            for (digest, v) in &task.spec.graph.vertices {
                inputs
                    .entry(digest.clone())
                    .or_insert_with(|| v.inputs.iter().map(|i| i.vertex.clone()).collect());
            }
        }
        inputs
            .into_iter()
            .map(|(vertex, inputs)| slipway_progress::VertexInputs { vertex, inputs })
            .collect::<Vec<_>>()
    });
    if vertices.is_empty() {
        return None;
    }
    let json = serde_json::to_vec(&slipway_progress::ProgressEvent::Graph { vertices }).ok()?;
    Some(v1::ProgressReport {
        task_id: String::new(),
        worker_id: String::new(),
        event_json: json,
    })
}

async fn run(
    s: Arc<Shared>,
    build: BuildId,
    missed: Vec<v1::ProgressReport>,
    mut progress: broadcast::Receiver<v1::ProgressReport>,
    tx: mpsc::Sender<Result<v1::BuildEvent, Status>>,
) {
    let mut applied = s.raft.applied_watch();
    // The build's vertex graph first (rawjson's `inputs`), from the planned tasks; then
    // the progress published before this watcher subscribed.
    for p in graph_event(&s, &build).into_iter().chain(missed) {
        if tx.send(event(Event::Progress(p))).await.is_err() {
            return;
        }
    }
    let mut sent_summary: Option<v1::BuildSummary> = None;
    let mut sent_tasks: HashMap<String, v1::TaskInfo> = HashMap::new();
    loop {
        let Some((summary, tasks, last)) = snapshot(&s, &build) else {
            let _ = tx
                .send(Err(NodeError::BuildNotFound { build }.into()))
                .await;
            return;
        };
        if last {
            // Progress that raced the final state still goes out first.
            while let Ok(p) = progress.try_recv() {
                if tx.send(event(Event::Progress(p))).await.is_err() {
                    return;
                }
            }
        }
        for t in tasks {
            if sent_tasks.get(&t.id) != Some(&t) {
                sent_tasks.insert(t.id.clone(), t.clone());
                if tx.send(event(Event::Task(t))).await.is_err() {
                    return;
                }
            }
        }
        if sent_summary.as_ref() != Some(&summary) {
            sent_summary = Some(summary.clone());
            if tx.send(event(Event::Build(summary))).await.is_err() {
                return;
            }
        }
        if last {
            return;
        }
        // Wait for the next applied entry, passing progress on meanwhile.
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                _ = s.shutdown.cancelled() => {
                    let _ = tx.send(Err(Status::unavailable("the coordinator is shutting down"))).await;
                    return;
                }
                changed = applied.changed() => {
                    if changed.is_err() {
                        let _ = tx.send(Err(Status::unavailable("the coordinator's raft stopped"))).await;
                        return;
                    }
                    break;
                }
                p = progress.recv() => match p {
                    Ok(p) => {
                        if tx.send(event(Event::Progress(p))).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        progress = s.progress.subscribe(build).1;
                    }
                },
            }
        }
    }
}
