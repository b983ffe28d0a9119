//! `RUN --mount=type=ssh` on the farm: for each ssh id a task's graph mounts, the worker
//! listens on a private unix socket (what the solve mounts as the agent); every connection
//! a step opens there becomes an `SshForward` stream to the leader, which bridges it to the
//! build client's session and so to the client's own ssh agent. Keys never leave the
//! client: only the agent protocol's bytes travel.

use std::collections::BTreeMap;
use std::sync::Arc;

use slipway_farm::{TaskId, TaskSpec};
use slipway_proto::v1::SshFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::error::{AgentError, TaskError};
use super::shared::Shared;
use slipway_worker::SshSource;

/// The listening sockets of one task; they stop when this is dropped.
pub struct Forwarders {
    _dir: tempfile::TempDir,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Forwarders {
    fn drop(&mut self) {
        for l in &self.loops {
            l.abort();
        }
    }
}

/// Agent sockets for the ssh ids `spec` mounts (none: no sockets, no guard).
pub fn start(
    shared: &Arc<Shared>,
    spec: &TaskSpec,
) -> Result<(BTreeMap<String, SshSource>, Option<Forwarders>), TaskError> {
    let ids = spec.graph.ssh_ids();
    if ids.is_empty() {
        return Ok((BTreeMap::new(), None));
    }
    let task = spec.id;
    let agent = |source| TaskError::Agent { task, source };
    let root = shared.env.worker.data_dir().join("tmp");
    let dir = tempfile::Builder::new()
        .prefix("ssh-")
        .tempdir_in(&root)
        .map_err(AgentError::io("creating an ssh socket directory in", &root))
        .map_err(agent)?;
    let mut sources = BTreeMap::new();
    let mut loops = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let path = dir.path().join(format!("{i}.sock"));
        let listener = UnixListener::bind(&path)
            .map_err(AgentError::io("listening on", &path))
            .map_err(agent)?;
        loops.push(tokio::spawn(accept(
            shared.clone(),
            task,
            id.clone(),
            listener,
        )));
        sources.insert(id, SshSource::AgentSocket(path));
    }
    Ok((sources, Some(Forwarders { _dir: dir, loops })))
}

async fn accept(shared: Arc<Shared>, task: TaskId, id: String, listener: UnixListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(forward(shared.clone(), task, id.clone(), stream));
    }
}

/// One connection: the step's bytes up to the leader, the client agent's bytes back.
async fn forward(shared: Arc<Shared>, task: TaskId, id: String, stream: UnixStream) {
    let (mut from_step, mut to_step) = stream.into_split();
    let (tx, rx) = mpsc::channel::<SshFrame>(64);
    let first = SshFrame {
        worker_id: shared.spec.id.to_string(),
        task_id: task.to_string(),
        ssh_id: id.clone(),
        ..Default::default()
    };
    if tx.send(first).await.is_err() {
        return;
    }
    let (_, mut client) = shared.coordinators.client();
    let mut inbound = match client.ssh_forward(ReceiverStream::new(rx)).await {
        Ok(r) => r.into_inner(),
        Err(e) => {
            tracing::warn!(%task, ssh = %id, error = %e, "forwarding an ssh agent connection");
            return;
        }
    };
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let frame = match from_step.read(&mut buf).await {
                Ok(0) | Err(_) => SshFrame {
                    close: true,
                    ..Default::default()
                },
                Ok(n) => SshFrame {
                    data: buf[..n].to_vec(),
                    ..Default::default()
                },
            };
            let close = frame.close;
            if tx.send(frame).await.is_err() || close {
                break;
            }
        }
    });
    while let Ok(Some(f)) = inbound.message().await {
        if !f.data.is_empty() && to_step.write_all(&f.data).await.is_err() {
            break;
        }
        if f.close {
            break;
        }
    }
    let _ = to_step.shutdown().await;
    up.abort();
}
