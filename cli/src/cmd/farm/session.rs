//! The client side of a farm build's session (`--secret`, `--ssh` with `--builder`):
//! before the build is submitted the client opens a `Session` stream naming the build and
//! waits until the leader registered it; while the build runs it answers the leader's
//! questions for secrets from its own files and variables, and pipes each forwarded
//! ssh-agent connection to its local agent socket. The stream is reopened (any
//! coordinator forwards it to the leader) when it breaks before the build ends.

use super::client::{status_error, FarmClient, FarmOptions};
use anyhow::{Context, Result};
use slipway_proto::v1;
use slipway_proto::v1::session_client_message::Msg as ClientMsg;
use slipway_proto::v1::session_server_message::Msg as ServerMsg;
use slipway_worker::{SecretSource, SshSource};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Streaming;

/// An open session; [`Session::close`] ends it once the build is final.
pub struct Session {
    done: CancellationToken,
    driver: tokio::task::JoinHandle<()>,
}

/// What the client serves.
pub struct Served {
    pub secrets: BTreeMap<String, SecretSource>,
    pub ssh: BTreeMap<String, SshSource>,
}

type Shared = Arc<Served>;

struct Open {
    inbound: Streaming<v1::SessionServerMessage>,
    outbound: mpsc::Sender<v1::SessionClientMessage>,
}

/// Opens the session of `build_id` (registered by the leader when this returns) and
/// serves what the client offers (secrets, ssh agents) in the background.
pub async fn open(opts: &FarmOptions, build_id: &str, served: Served) -> Result<Session> {
    let first = connect(opts, build_id)
        .await
        .context("opening the build's client session (for --secret/--ssh)")?;
    let done = CancellationToken::new();
    let served: Shared = Arc::new(served);
    let (opts, id, stop) = (opts.clone(), build_id.to_string(), done.clone());
    let driver = tokio::spawn(async move {
        let mut current = Some(first);
        loop {
            if let Some(open) = current.take() {
                tokio::select! {
                    r = serve(open, &served) => if let Err(e) = r {
                        tracing::debug!(error = %e, "client session broke");
                    },
                    _ = stop.cancelled() => return,
                }
            }
            if stop.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = stop.cancelled() => return,
            }
            match connect(&opts, &id).await {
                Ok(open) => current = Some(open),
                Err(e) => tracing::debug!(error = %e, "reopening the client session"),
            }
        }
    });
    Ok(Session { done, driver })
}

impl Session {
    pub async fn close(self) {
        self.done.cancel();
        let _ = self.driver.await;
    }
}

async fn connect(opts: &FarmOptions, build_id: &str) -> Result<Open> {
    let mut client = FarmClient::connect(opts).await?;
    let (outbound, rx) = mpsc::channel(16);
    let hello = v1::SessionClientMessage {
        msg: Some(ClientMsg::Open(v1::SessionOpen {
            build_id: build_id.to_string(),
        })),
    };
    outbound
        .send(hello)
        .await
        .map_err(|_| anyhow::anyhow!("session stream closed before it opened"))?;
    let mut inbound = client
        .control()
        .session(ReceiverStream::new(rx))
        .await
        .map_err(status_error)?
        .into_inner();
    match inbound.message().await.map_err(status_error)? {
        Some(v1::SessionServerMessage {
            msg: Some(ServerMsg::Opened(_)),
        }) => Ok(Open { inbound, outbound }),
        other => anyhow::bail!("the coordinator did not open the session (answered {other:?})"),
    }
}

/// Answers questions and pipes ssh connections until the stream ends.
async fn serve(mut open: Open, served: &Shared) -> Result<()> {
    let mut agents: HashMap<String, OwnedWriteHalf> = HashMap::new();
    while let Some(m) = open.inbound.message().await.map_err(status_error)? {
        match m.msg {
            Some(ServerMsg::Secret(q)) => {
                let answer = secret_answer(served, q);
                send(&open.outbound, answer).await?;
            }
            Some(ServerMsg::SshOpen(o)) => match connect_agent(served, &o.id).await {
                Ok(stream) => {
                    let (read, write) = stream.into_split();
                    agents.insert(o.conn_id.clone(), write);
                    tokio::spawn(pipe_agent(read, o.conn_id, open.outbound.clone()));
                }
                Err(e) => {
                    eprintln!("WARNING: ssh {:?}: {e:#}", o.id);
                    send(&open.outbound, ssh_close(o.conn_id)).await?;
                }
            },
            Some(ServerMsg::SshData(d)) => {
                let Some(w) = agents.get_mut(&d.conn_id) else {
                    continue;
                };
                if !d.data.is_empty() && w.write_all(&d.data).await.is_err() {
                    agents.remove(&d.conn_id);
                    send(&open.outbound, ssh_close(d.conn_id)).await?;
                    continue;
                }
                if d.close {
                    if let Some(mut w) = agents.remove(&d.conn_id) {
                        let _ = w.shutdown().await;
                    }
                }
            }
            Some(ServerMsg::Opened(_)) | None => {}
        }
    }
    Ok(())
}

async fn send(
    outbound: &mpsc::Sender<v1::SessionClientMessage>,
    msg: v1::SessionClientMessage,
) -> Result<()> {
    outbound
        .send(msg)
        .await
        .map_err(|_| anyhow::anyhow!("session stream closed"))
}

fn secret_answer(served: &Served, q: v1::SecretQuestion) -> v1::SessionClientMessage {
    let (found, value) = match served.secrets.get(&q.id).map(SecretSource::read) {
        Some(Ok(Some(v))) => (true, v),
        Some(Ok(None)) | None => (false, Vec::new()),
        Some(Err(e)) => {
            eprintln!("WARNING: secret {:?} cannot be read: {e}", q.id);
            (false, Vec::new())
        }
    };
    v1::SessionClientMessage {
        msg: Some(ClientMsg::Secret(v1::SecretAnswer {
            request_id: q.request_id,
            id: q.id,
            found,
            value,
        })),
    }
}

fn ssh_close(conn_id: String) -> v1::SessionClientMessage {
    v1::SessionClientMessage {
        msg: Some(ClientMsg::SshData(v1::SshData {
            conn_id,
            data: Vec::new(),
            close: true,
        })),
    }
}

async fn connect_agent(served: &Served, id: &str) -> Result<UnixStream> {
    let Some(SshSource::AgentSocket(path)) = served.ssh.get(id) else {
        anyhow::bail!("the build asked for ssh {id:?}, which was not given with --ssh");
    };
    UnixStream::connect(path)
        .await
        .with_context(|| format!("connecting to the ssh agent at {}", path.display()))
}

/// The agent's bytes to the session, then the close.
async fn pipe_agent(
    mut read: OwnedReadHalf,
    conn_id: String,
    outbound: mpsc::Sender<v1::SessionClientMessage>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let msg = v1::SessionClientMessage {
            msg: Some(ClientMsg::SshData(v1::SshData {
                conn_id: conn_id.clone(),
                data: buf[..n].to_vec(),
                close: false,
            })),
        };
        if outbound.send(msg).await.is_err() {
            return;
        }
    }
    let _ = outbound.send(ssh_close(conn_id)).await;
}
