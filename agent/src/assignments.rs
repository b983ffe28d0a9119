//! The `Assignments` stream: held open to whichever coordinator answers (followers proxy
//! it to the leader), reopened with backoff when it breaks and after every registration.
//! The leader first re-sends every non-final task assigned to this worker, so duplicates
//! are expected and ignored by the task table.

use std::sync::Arc;

use slipway_proto::convert::messages;
use slipway_proto::v1::{task_outcome::Outcome, Assignment, AssignmentsRequest, TaskOutcome};
use tonic::Code;

use super::config::Backoff;
use super::coordinators::sleep;
use super::runner;
use super::shared::Shared;
use super::slots::Offer;
use super::task::Assigned;

/// Holds the stream open until the agent shuts down.
pub async fn follow(shared: Arc<Shared>) {
    let mut registrations = shared.registrations.subscribe();
    let mut backoff = Backoff::new(&shared.timings);
    let request = AssignmentsRequest {
        worker_id: shared.spec.id.to_string(),
        incarnation: shared.spec.incarnation.to_string(),
    };
    loop {
        registrations.mark_unchanged();
        let (index, mut client) = shared.coordinators.client();
        let addr = shared.coordinators.addr(index).to_string();
        let opened = tokio::select! {
            r = client.assignments(request.clone()) => r,
            _ = shared.cancel.cancelled() => return,
        };
        match opened {
            Ok(response) => {
                tracing::info!(coordinator = %addr, "assignments stream open");
                let mut stream = response.into_inner();
                loop {
                    tokio::select! {
                        m = stream.message() => match m {
                            Ok(Some(a)) => {
                                backoff.reset();
                                accept(&shared, a);
                            }
                            Ok(None) => {
                                tracing::info!(coordinator = %addr, "assignments stream ended");
                                break;
                            }
                            Err(status) => {
                                tracing::warn!(coordinator = %addr, code = ?status.code(),
                                    message = status.message(), "assignments stream broke");
                                shared.coordinators.failed(index);
                                break;
                            }
                        },
                        _ = registrations.changed() => {
                            tracing::debug!("registered again; reopening the assignments stream");
                            break;
                        }
                        _ = shared.cancel.cancelled() => return,
                    }
                }
            }
            Err(status) if status.code() == Code::NotFound => {
                tracing::warn!(coordinator = %addr, message = status.message(),
                    "assignments refused: not registered; registering again");
                if shared.register().await.is_err() {
                    return;
                }
            }
            Err(status) => {
                tracing::debug!(coordinator = %addr, code = ?status.code(),
                    message = status.message(), "opening the assignments stream");
                shared.coordinators.failed(index);
            }
        }
        if sleep(backoff.next_wait(), &shared.cancel).await.is_err() {
            return;
        }
    }
}

/// Takes one assignment: runs it now, queues it, or ignores a duplicate.
fn accept(shared: &Arc<Shared>, assignment: Assignment) {
    let attempt = assignment.attempt;
    let Some(task_id) = assignment.task.as_ref().map(|t| t.id.clone()) else {
        tracing::warn!("an assignment without a task; ignored");
        return;
    };
    let assigned = match messages::Assignment::try_from(assignment) {
        Ok(a) => Assigned {
            spec: a.task,
            inputs: a.inputs,
        },
        Err(e) => {
            // The task can never run anywhere: fail it instead of waiting forever.
            tracing::warn!(task = %task_id, error = %e, "invalid task assigned");
            tokio::spawn(refuse(
                shared.clone(),
                task_id,
                format!("invalid task: {e}"),
            ));
            return;
        }
    };
    let task = assigned.spec.id;
    let (offer, queued) = {
        let mut table = shared.table();
        let offer = table.offer(task, attempt, assigned);
        (offer, table.queued())
    };
    match offer {
        Offer::Start(assigned, cancel) => runner::spawn(shared.clone(), assigned, cancel),
        Offer::Queued => tracing::info!(%task, queued, "all slots busy; task queued"),
        Offer::Duplicate => tracing::debug!(%task, attempt, "already held; assignment ignored"),
        Offer::AlreadyFinished => {
            tracing::debug!(%task, attempt, "this attempt already finished here; ignored")
        }
    }
}

async fn refuse(shared: Arc<Shared>, task_id: String, message: String) {
    let outcome = TaskOutcome {
        task_id,
        worker_id: shared.spec.id.to_string(),
        outcome: Some(Outcome::Error(message)),
    };
    let sent = shared
        .coordinators
        .call("Finish", &shared.cancel, |mut c| {
            let r = outcome.clone();
            async move { c.finish(r).await }
        })
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "reporting an invalid task");
    }
}
