//! Exec vertices (RUN): an active snapshot of the rootfs input, the step's mounts, the
//! process through the executor, and the upper dir committed as the step's layer.

use std::path::PathBuf;
use std::sync::Arc;

use slipway_fsutil::{resolve_in_root, FollowFinal};
use slipway_graph::{Digest, ExecOp, ExecOutput, Mount, MountKind, NetworkMode as GraphNetwork};
use slipway_progress::LogStream;
use tokio::sync::mpsc;

use super::key::input;
use super::{Ctx, Done, SshSource, VertexError};
use crate::executor::{
    Access, MountSpec, NetworkMode, OutputChunk, OutputStream, ProcessIo, RunSpec,
};
use crate::mounts::{CacheMountLease, CacheMountSpec, RemoveOnDrop, SecretFile, SshProxy};
use crate::snapshot::{ActiveSnapshot, ChainId};

/// Mount destinations every container gets (see the executor's runtime spec).
const EXECUTOR_MOUNTS: [&str; 9] = [
    "/proc",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
    "/dev",
];

/// Everything a step holds while its process runs; released after it exits.
#[derive(Default)]
struct Held {
    snapshots: Vec<ActiveSnapshot>,
    secrets: Vec<SecretFile>,
    caches: Vec<CacheMountLease>,
    ssh: Vec<SshProxy>,
    temps: Vec<RemoveOnDrop>,
}

impl Held {
    async fn release(self) {
        for s in self.snapshots {
            if let Err(e) = s.cleanup().await {
                tracing::warn!(error = %e, "removing a mount snapshot");
            }
        }
        drop(self.secrets);
        drop(self.caches);
        drop(self.ssh);
        drop(self.temps);
    }
}

pub(crate) async fn run(
    ctx: &Ctx,
    digest: &Digest,
    op: &ExecOp,
    inputs: &[Arc<Done>],
    key: crate::cache::CacheKey,
) -> Result<Option<ChainId>, VertexError> {
    let base = match op.rootfs {
        Some(i) => input(inputs, i)?.chain.clone(),
        None => None,
    };
    let active = ctx.inner.snapshotter.prepare_active(base.as_ref()).await?;
    let mut held = Held::default();
    let platform = ctx
        .req
        .graph
        .get(digest)
        .map(|v| v.platform.to_string())
        .unwrap_or_default();
    let prepared = prepare_mounts(ctx, op, inputs, &platform, &mut held).await;
    let (mounts, extra_env) = match prepared {
        Ok(m) => m,
        Err(e) => {
            held.release().await;
            let _ = active.cleanup().await;
            return Err(e);
        }
    };
    let mut env = op.env.clone();
    env.extend(extra_env);
    let spec = RunSpec {
        rootfs: active.rootfs().to_path_buf(),
        args: op.args.clone(),
        env,
        cwd: op.cwd.clone(),
        user: op.user.clone(),
        hostname: String::new(),
        // No CNI here: the sandbox network is the host's, as BuildKit without CNI.
        network: match op.network {
            GraphNetwork::Sandbox | GraphNetwork::Host => NetworkMode::Host,
            GraphNetwork::None => NetworkMode::None,
        },
        // Entitlement checked in the key phase (`Ctx::entitled`).
        security: match op.security {
            slipway_graph::SecurityMode::Sandbox => crate::executor::Security::Sandbox,
            slipway_graph::SecurityMode::Insecure => crate::executor::Security::Insecure,
        },
        mounts,
        ..Default::default()
    };
    let (tx, rx) = mpsc::channel::<OutputChunk>(256);
    let forward = tokio::spawn(forward_logs(ctx.progress.clone(), digest.clone(), rx));
    let result = ctx
        .inner
        .executor
        .run(spec, ProcessIo { output: Some(tx) }, ctx.cancel.clone())
        .await;
    let _ = forward.await;
    held.release().await;
    if let Err(e) = result {
        let _ = active.cleanup().await;
        return Err(e.into());
    }
    if op.output == ExecOutput::Discard {
        active.cleanup().await?;
        return Ok(base);
    }
    let changes = active.finish().await?;
    let chain = super::key::fresh_chain(ctx, &key)?;
    // The step's mounts and the executor's own (whose stubs it removed already).
    let targets: Vec<String> = op
        .mounts
        .iter()
        .map(|m| m.target.clone())
        .chain(EXECUTOR_MOUNTS.iter().map(|t| t.to_string()))
        .collect();
    super::commit::commit(ctx, changes, &chain, base.as_ref(), targets).await?;
    Ok(Some(chain))
}

async fn forward_logs(
    progress: super::progress::Progress,
    digest: Digest,
    mut rx: mpsc::Receiver<OutputChunk>,
) {
    while let Some(chunk) = rx.recv().await {
        let stream = match chunk.stream {
            OutputStream::Stdout => LogStream::Stdout,
            OutputStream::Stderr => LogStream::Stderr,
        };
        progress.log(&digest, stream, chunk.data).await;
    }
}

/// The executor mounts and extra environment of `op`'s mounts and secret env vars.
async fn prepare_mounts(
    ctx: &Ctx,
    op: &ExecOp,
    inputs: &[Arc<Done>],
    platform: &str,
    held: &mut Held,
) -> Result<(Vec<MountSpec>, Vec<String>), VertexError> {
    let mut mounts = Vec::new();
    let mut env = Vec::new();
    let tmp = ctx.inner.data_dir.join("tmp");
    let mut ssh_sock: Option<String> = None;
    for m in &op.mounts {
        match &m.kind {
            MountKind::Layer {
                input: idx,
                selector,
                readonly,
            } => {
                let source = match idx {
                    Some(i) => {
                        let chain = input(inputs, *i)?.chain.clone();
                        let snap = ctx.inner.snapshotter.prepare_active(chain.as_ref()).await?;
                        let root = snap.rootfs().to_path_buf();
                        held.snapshots.push(snap);
                        resolve_in_root(&root, selector, FollowFinal::Follow)?
                    }
                    None => empty_dir(&tmp, held)?,
                };
                mounts.push(MountSpec::Bind {
                    source,
                    target: m.target.clone(),
                    access: access(*readonly),
                });
            }
            MountKind::Cache {
                id,
                sharing,
                from,
                selector,
                uid,
                gid,
                mode,
                readonly,
            } => {
                let seed = match from {
                    Some(i) => {
                        let chain = input(inputs, *i)?.chain.clone();
                        let snap = ctx.inner.snapshotter.prepare_active(chain.as_ref()).await?;
                        let root = snap.rootfs().to_path_buf();
                        held.snapshots.push(snap);
                        Some(resolve_in_root(&root, selector, FollowFinal::Follow)?)
                    }
                    None => None,
                };
                let id = if id.is_empty() { &m.target } else { id };
                let spec = CacheMountSpec {
                    // Per platform: an emulating worker must not mix arm64 objects into
                    // an amd64 build's cache.
                    id: format!("{id}|{platform}"),
                    sharing: *sharing,
                    uid: *uid,
                    gid: *gid,
                    mode: *mode,
                };
                let lease = tokio::select! {
                    l = ctx.inner.cache_mounts.acquire(&spec, seed.as_deref()) => l
                        .map_err(VertexError::io("preparing cache mount", ctx.inner.cache_mounts.dir_of(&spec.id)))?,
                    _ = ctx.cancel.cancelled() => return Err(VertexError::Cancelled),
                };
                mounts.push(MountSpec::Bind {
                    source: lease.path().to_path_buf(),
                    target: m.target.clone(),
                    access: access(*readonly),
                });
                held.caches.push(lease);
            }
            MountKind::Tmpfs { size } => mounts.push(MountSpec::Tmpfs {
                target: m.target.clone(),
                size_bytes: *size,
            }),
            MountKind::Secret {
                id,
                required,
                uid,
                gid,
                mode,
            } => {
                let Some(value) = secret_value(ctx, id, *required)? else {
                    continue;
                };
                let file = SecretFile::create(&tmp, &value, *uid, *gid, *mode)
                    .map_err(VertexError::io("creating secret mount for", secret_path(m)))?;
                mounts.push(MountSpec::Bind {
                    source: file.path().to_path_buf(),
                    target: m.target.clone(),
                    access: Access::ReadOnly,
                });
                held.secrets.push(file);
            }
            MountKind::Ssh {
                id,
                required,
                uid,
                gid,
                mode,
            } => {
                let agent = match ctx.req.ssh.get(id) {
                    Some(SshSource::AgentSocket(p)) => p.clone(),
                    None if *required => return Err(VertexError::MissingSsh { id: id.clone() }),
                    None => continue,
                };
                let proxy = SshProxy::start(&tmp, &agent, *uid, *gid, *mode)
                    .map_err(VertexError::io("forwarding the ssh agent", &agent))?;
                mounts.push(MountSpec::Bind {
                    source: proxy.path().to_path_buf(),
                    target: m.target.clone(),
                    access: Access::ReadWrite,
                });
                held.ssh.push(proxy);
                ssh_sock.get_or_insert_with(|| m.target.clone());
            }
        }
    }
    if let Some(sock) = ssh_sock {
        if !op.env.iter().any(|e| e.starts_with("SSH_AUTH_SOCK=")) {
            env.push(format!("SSH_AUTH_SOCK={sock}"));
        }
    }
    for se in &op.secret_env {
        let Some(value) = secret_value(ctx, &se.id, se.required)? else {
            continue;
        };
        let text = String::from_utf8(value).map_err(|_| VertexError::SecretUnreadable {
            id: se.id.clone(),
            reason: "an environment secret must be UTF-8".into(),
        })?;
        env.push(format!("{}={text}", se.name));
    }
    Ok((mounts, env))
}

fn access(readonly: bool) -> Access {
    if readonly {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    }
}

fn secret_path(m: &Mount) -> PathBuf {
    PathBuf::from(&m.target)
}

fn empty_dir(tmp: &std::path::Path, held: &mut Held) -> Result<PathBuf, VertexError> {
    let dir = tmp.join(format!("empty-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).map_err(VertexError::io("creating", &dir))?;
    held.temps.push(RemoveOnDrop(dir.clone()));
    Ok(dir)
}

/// The value of secret `id`: `None` when it is missing and not required.
fn secret_value(ctx: &Ctx, id: &str, required: bool) -> Result<Option<Vec<u8>>, VertexError> {
    let value = match ctx.req.secrets.get(id) {
        None => None,
        Some(source) => source.read().map_err(|e| VertexError::SecretUnreadable {
            id: id.to_string(),
            reason: e.to_string(),
        })?,
    };
    match value {
        Some(v) => Ok(Some(v)),
        None if required => Err(VertexError::MissingSecret { id: id.to_string() }),
        None => Ok(None),
    }
}
