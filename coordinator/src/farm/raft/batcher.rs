//! Group commit: concurrent [`super::RaftNode::write`] calls share Raft entries.
//!
//! Every write is queued on a channel. One task takes everything queued (up to
//! [`BatchOptions::max_commands`]) and submits it as ONE entry: the command itself when it
//! is alone, `Command::Batch` otherwise. Each caller gets its own response out of the
//! `Response::Batch`, or the entry's error (e.g. `ForwardToLeader`). At most
//! [`BatchOptions::max_in_flight`] entries wait for their commit at once: while they do,
//! new writes pile up in the queue and go out together in the next entry, so the batch
//! size grows with the load and a lone write is not delayed.
//!
//! Entries are handed to the Raft core in queue order, so writes keep the order in which
//! their callers queued them.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, Fatal, RaftError};
use openraft::raft::ClientWriteResponse;
use openraft::BasicNode;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::types::{Command, NodeId, Raft, Response, TypeConfig};

/// The error openraft gives a client write.
pub(super) type ClientWriteFailure = RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>;

/// How writes are grouped.
#[derive(Clone, Copy, Debug)]
pub(super) struct BatchOptions {
    /// Most commands in one entry.
    pub max_commands: usize,
    /// Most entries submitted and not yet answered.
    pub max_in_flight: usize,
    /// How long an entry may wait for its commit before its writers get `Timeout`.
    pub commit_timeout: Duration,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            max_commands: 256,
            max_in_flight: 4,
            commit_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a queued write got no response of its own.
#[derive(Clone, Debug)]
pub(super) enum BatchFailure {
    /// openraft refused or failed the entry (not leader, stopped).
    Raft(Box<ClientWriteFailure>),
    /// The entry was not committed within `commit_timeout`.
    Timeout(Duration),
    /// The state machine answered the batch with something other than one response per
    /// command (a bug; no caller can tell what happened to its command).
    Mismatch { commands: usize, answer: String },
}

impl BatchFailure {
    /// The Raft core (or the batching task) is gone.
    fn stopped() -> BatchFailure {
        BatchFailure::Raft(Box::new(RaftError::Fatal(Fatal::Stopped)))
    }
}

type Reply = oneshot::Sender<Result<Response, BatchFailure>>;

struct Queued {
    cmd: Command,
    reply: Reply,
}

/// The sending side of the write queue; cheap to clone. The batching task ends when every
/// clone is dropped.
#[derive(Clone)]
pub(super) struct Batcher {
    queue: mpsc::UnboundedSender<Queued>,
}

impl Batcher {
    pub(super) fn spawn(raft: Raft, options: BatchOptions) -> Batcher {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(raft, options, rx));
        Batcher { queue }
    }

    /// Queues `cmd` and waits for its response.
    pub(super) async fn write(&self, cmd: Command) -> Result<Response, BatchFailure> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Queued { cmd, reply })
            .map_err(|_| BatchFailure::stopped())?;
        answer.await.map_err(|_| BatchFailure::stopped())?
    }
}

async fn run(raft: Raft, options: BatchOptions, mut rx: mpsc::UnboundedReceiver<Queued>) {
    let max_commands = options.max_commands.max(1);
    let in_flight = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    while let Some(first) = rx.recv().await {
        // Waiting for a free slot lets more writes queue up behind `first`.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_commands {
            match rx.try_recv() {
                Ok(q) => batch.push(q),
                Err(_) => break,
            }
        }
        let (cmds, replies): (Vec<Command>, Vec<Reply>) =
            batch.into_iter().map(|q| (q.cmd, q.reply)).unzip();
        let entry = match <[Command; 1]>::try_from(cmds) {
            Ok([one]) => one,
            Err(cmds) => Command::Batch(cmds),
        };
        // Handing the entry to the core here (not in the spawned task) keeps queue order.
        let pending = match raft.client_write_ff(entry).await {
            Ok(pending) => pending,
            Err(fatal) => {
                answer_all(
                    replies,
                    &BatchFailure::Raft(Box::new(RaftError::Fatal(fatal))),
                );
                continue;
            }
        };
        let timeout = options.commit_timeout;
        tokio::spawn(async move {
            let outcome = match tokio::time::timeout(timeout, pending).await {
                Err(_) => Err(BatchFailure::Timeout(timeout)),
                Ok(Err(_)) => Err(BatchFailure::stopped()),
                Ok(Ok(result)) => {
                    result.map_err(|e| BatchFailure::Raft(Box::new(RaftError::APIError(e))))
                }
            };
            drop(permit);
            deliver(replies, outcome);
        });
    }
}

/// Gives each writer its response (or the entry's failure).
fn deliver(replies: Vec<Reply>, outcome: Result<ClientWriteResponse<TypeConfig>, BatchFailure>) {
    let response = match outcome {
        Ok(r) => r.data,
        Err(failure) => return answer_all(replies, &failure),
    };
    match split(response, replies.len()) {
        Ok(responses) => {
            for (reply, response) in replies.into_iter().zip(responses) {
                // A writer that gave up (timed out) dropped its receiver; nothing to do.
                let _ = reply.send(Ok(response));
            }
        }
        Err(failure) => answer_all(replies, &failure),
    }
}

/// One response per command of an entry made of `commands` commands.
fn split(response: Response, commands: usize) -> Result<Vec<Response>, BatchFailure> {
    match response {
        Response::Batch(responses) if commands > 1 && responses.len() == commands => Ok(responses),
        single if commands == 1 && !matches!(single, Response::Batch(_)) => Ok(vec![single]),
        other => Err(BatchFailure::Mismatch {
            commands,
            answer: format!("{other:?}"),
        }),
    }
}

fn answer_all(replies: Vec<Reply>, failure: &BatchFailure) {
    for reply in replies {
        let _ = reply.send(Err(failure.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: &str) -> Response {
        Response::Ignored { reason: r.into() }
    }

    #[test]
    fn split_hands_out_one_response_per_command() {
        let got = split(Response::Batch(vec![Response::Ok, reason("dup")]), 2);
        assert_eq!(got.ok(), Some(vec![Response::Ok, reason("dup")]));
        assert_eq!(
            split(reason("dup"), 1).ok(),
            Some(vec![reason("dup")]),
            "a lone command is its own entry"
        );
    }

    #[test]
    fn split_refuses_a_response_that_does_not_match_the_entry() {
        for (response, commands) in [
            (Response::Batch(vec![Response::Ok]), 2),
            (Response::Ok, 2),
            (Response::Batch(vec![Response::Ok]), 1),
        ] {
            match split(response.clone(), commands) {
                Err(BatchFailure::Mismatch { commands: n, .. }) => assert_eq!(n, commands),
                other => panic!("{response:?} for {commands} commands gave {other:?}"),
            }
        }
    }
}
