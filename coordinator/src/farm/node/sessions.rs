//! Build sessions: the client of a build that uses `--secret` keeps a `Session` stream open
//! with the leader; a worker running one of the build's tasks asks for the secrets its
//! graph mounts (`GetSecrets`) and the leader relays each question to the client and the
//! answer back. Secret values live only in this memory, for the duration of one call: they
//! are never committed to the Raft log, logged or written to disk.

use slipway_farm::BuildId;
use slipway_proto::v1;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

/// What goes down a client's session stream.
pub type SessionSender = mpsc::Sender<Result<v1::SessionServerMessage, Status>>;

struct Session {
    /// Distinguishes a reopened session from the one it replaced.
    token: u64,
    tx: SessionSender,
    pending: HashMap<String, oneshot::Sender<v1::SecretAnswer>>,
    /// Forwarded ssh-agent connections: bytes from the client go to the worker's stream.
    ssh: HashMap<String, mpsc::Sender<v1::SshData>>,
}

/// The open sessions, by build.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<(u64, HashMap<BuildId, Session>)>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<BuildId, Session>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers the client's session for `build` (replacing an older one); returns its
    /// token for [`Sessions::close`].
    pub fn open(&self, build: BuildId, tx: SessionSender) -> u64 {
        let mut g = self.lock();
        g.0 += 1;
        let token = g.0;
        g.1.insert(
            build,
            Session {
                token,
                tx,
                pending: HashMap::new(),
                ssh: HashMap::new(),
            },
        );
        token
    }

    /// Removes the session if it is still the one `token` opened.
    pub fn close(&self, build: &BuildId, token: u64) {
        let mut g = self.lock();
        if g.1.get(build).is_some_and(|s| s.token == token) {
            g.1.remove(build);
        }
    }

    /// Drops every session (this node stopped leading): the clients' streams end and
    /// they reopen them through the new leader.
    pub fn clear(&self) {
        self.lock().1.clear();
    }

    /// Delivers the client's answer to the question waiting for it.
    pub fn answer(&self, build: &BuildId, answer: v1::SecretAnswer) {
        let mut g = self.lock();
        let waiting =
            g.1.get_mut(build)
                .and_then(|s| s.pending.remove(&answer.request_id));
        if let Some(w) = waiting {
            let _ = w.send(answer);
        }
    }

    /// Opens a forwarded connection to the client's ssh agent `id`; the receiver gets the
    /// client's bytes (and its close).
    pub fn open_ssh(
        &self,
        build: &BuildId,
        id: &str,
    ) -> Result<(String, mpsc::Receiver<v1::SshData>), SessionError> {
        let mut g = self.lock();
        let session =
            g.1.get_mut(build)
                .ok_or(SessionError::NoSession { build: *build })?;
        let conn_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = mpsc::channel(64);
        let open = v1::SessionServerMessage {
            msg: Some(v1::session_server_message::Msg::SshOpen(v1::SshOpen {
                conn_id: conn_id.clone(),
                id: id.to_string(),
            })),
        };
        session
            .tx
            .try_send(Ok(open))
            .map_err(|_| SessionError::Gone { build: *build })?;
        session.ssh.insert(conn_id.clone(), tx);
        Ok((conn_id, rx))
    }

    /// Bytes (or the close) of the client's side of a forwarded connection.
    pub async fn ssh_from_client(&self, build: &BuildId, data: v1::SshData) {
        let tx = {
            let mut g = self.lock();
            let Some(session) = g.1.get_mut(build) else {
                return;
            };
            if data.close {
                session.ssh.remove(&data.conn_id)
            } else {
                session.ssh.get(&data.conn_id).cloned()
            }
        };
        if let Some(tx) = tx {
            let _ = tx.send(data).await;
        }
    }

    /// Bytes (or the close) of the RUN step's side, sent down the client's session.
    pub async fn ssh_to_client(&self, build: &BuildId, data: v1::SshData) -> bool {
        let tx = {
            let mut g = self.lock();
            let Some(session) = g.1.get_mut(build) else {
                return false;
            };
            if data.close {
                session.ssh.remove(&data.conn_id);
            }
            session.tx.clone()
        };
        let msg = v1::SessionServerMessage {
            msg: Some(v1::session_server_message::Msg::SshData(data)),
        };
        tx.send(Ok(msg)).await.is_ok()
    }

    /// Asks the build's client for each of `ids`. Without a session every secret is
    /// "not found" (as when the client passed no `--secret`); a client that does not
    /// answer within `timeout` is an error.
    pub async fn ask(
        &self,
        build: &BuildId,
        ids: &[String],
        timeout: Duration,
    ) -> Result<Vec<v1::SecretValue>, SessionError> {
        let mut waits = Vec::new();
        {
            let mut g = self.lock();
            let Some(session) = g.1.get_mut(build) else {
                return Ok(ids
                    .iter()
                    .map(|id| v1::SecretValue {
                        id: id.clone(),
                        found: false,
                        value: Vec::new(),
                    })
                    .collect());
            };
            for id in ids {
                let request_id = uuid::Uuid::new_v4().to_string();
                let (tx, rx) = oneshot::channel();
                session.pending.insert(request_id.clone(), tx);
                let question = v1::SessionServerMessage {
                    msg: Some(v1::session_server_message::Msg::Secret(
                        v1::SecretQuestion {
                            request_id,
                            id: id.clone(),
                        },
                    )),
                };
                if session.tx.try_send(Ok(question)).is_err() {
                    return Err(SessionError::Gone { build: *build });
                }
                waits.push((id.clone(), rx));
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut out = Vec::with_capacity(waits.len());
        for (id, rx) in waits {
            match tokio::time::timeout_at(deadline, rx).await {
                Ok(Ok(a)) => out.push(v1::SecretValue {
                    id,
                    found: a.found,
                    value: a.value,
                }),
                Ok(Err(_)) => return Err(SessionError::Gone { build: *build }),
                Err(_) => {
                    return Err(SessionError::NoAnswer {
                        build: *build,
                        id,
                        secs: timeout.as_secs(),
                    })
                }
            }
        }
        Ok(out)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("the client session of build {build} closed")]
    Gone { build: BuildId },
    #[error("the client of build {build} did not answer for secret {id:?} within {secs} s")]
    NoAnswer {
        build: BuildId,
        id: String,
        secs: u64,
    },
    #[error("build {build} has no client session (its client is gone, or passed no --ssh)")]
    NoSession { build: BuildId },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn questions_reach_the_client_and_answers_come_back() {
        let sessions = std::sync::Arc::new(Sessions::default());
        let build = BuildId::new();
        // No session: nothing is found (the worker then applies `required`).
        let none = sessions
            .ask(&build, &["a".into()], Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!none[0].found);

        let (tx, mut rx) = mpsc::channel(8);
        let token = sessions.open(build, tx);
        let s = sessions.clone();
        let client = tokio::spawn(async move {
            for _ in 0..2 {
                let Some(Ok(m)) = rx.recv().await else { return };
                let Some(v1::session_server_message::Msg::Secret(q)) = m.msg else {
                    continue;
                };
                let found = q.id == "a";
                s.answer(
                    &build,
                    v1::SecretAnswer {
                        request_id: q.request_id,
                        id: q.id,
                        found,
                        value: if found { b"va".to_vec() } else { vec![] },
                    },
                );
            }
        });
        let got = sessions
            .ask(&build, &["a".into(), "b".into()], Duration::from_secs(5))
            .await
            .unwrap();
        client.await.unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].found && got[0].value == b"va");
        assert!(!got[1].found);

        // A client that never answers is an error naming the secret.
        let err = sessions
            .ask(&build, &["c".into()], Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            SessionError::Gone { .. } | SessionError::NoAnswer { .. }
        ));
        sessions.close(&build, token);
        let after = sessions
            .ask(&build, &["a".into()], Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!after[0].found, "closed: nothing is found");
    }
}
