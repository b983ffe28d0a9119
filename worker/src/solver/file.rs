//! File vertices (COPY, ADD of local files, mkdir, mkfile, rm): the actions applied with
//! fsutil onto an active snapshot of the base input, committed as a layer.

use std::path::PathBuf;
use std::sync::Arc;

use slipway_fsutil::{apply_file_op, ApplyOptions};
use slipway_graph::{FileAction, FileOp};

use super::key::input;
use super::{blocking, Ctx, Done, VertexError};
use crate::mounts::RemoveOnDrop;
use crate::snapshot::{ActiveSnapshot, ChainId};

/// The source roots of the copy actions, by input index.
struct Sources {
    paths: Vec<PathBuf>,
    snapshots: Vec<ActiveSnapshot>,
    _empty: RemoveOnDrop,
}

impl Sources {
    async fn release(self) {
        for s in self.snapshots {
            if let Err(e) = s.cleanup().await {
                tracing::warn!(error = %e, "removing a copy source snapshot");
            }
        }
    }
}

async fn sources(ctx: &Ctx, op: &FileOp, inputs: &[Arc<Done>]) -> Result<Sources, VertexError> {
    let empty = ctx
        .inner
        .data_dir
        .join("tmp")
        .join(format!("empty-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&empty).map_err(VertexError::io("creating", &empty))?;
    let mut out = Sources {
        paths: vec![empty.clone(); inputs.len()],
        snapshots: Vec::new(),
        _empty: RemoveOnDrop(empty),
    };
    let mut used: Vec<u32> = op
        .actions
        .iter()
        .filter_map(|a| match a {
            FileAction::Copy(c) => c.src_input,
            _ => None,
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    for i in used {
        let chain = input(inputs, i)?.chain.clone();
        let Some(chain) = chain else {
            continue; // an empty filesystem: the empty dir
        };
        let layers = ctx.inner.snapshotter.chain(&chain)?;
        let path = match layers.as_slice() {
            // One layer is its own merged view (read only here).
            [only] => only.dir.clone(),
            _ => {
                let snap = match ctx.inner.snapshotter.prepare_active(Some(&chain)).await {
                    Ok(s) => s,
                    Err(e) => {
                        out.release().await;
                        return Err(e.into());
                    }
                };
                let p = snap.rootfs().to_path_buf();
                out.snapshots.push(snap);
                p
            }
        };
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.paths.get_mut(i)) {
            *slot = path;
        }
    }
    Ok(out)
}

pub(crate) async fn run(
    ctx: &Ctx,
    op: &FileOp,
    inputs: &[Arc<Done>],
    key: crate::cache::CacheKey,
) -> Result<Option<ChainId>, VertexError> {
    let base = match op.base {
        Some(i) => input(inputs, i)?.chain.clone(),
        None => None,
    };
    let active = ctx.inner.snapshotter.prepare_active(base.as_ref()).await?;
    let srcs = match sources(ctx, op, inputs).await {
        Ok(s) => s,
        Err(e) => {
            let _ = active.cleanup().await;
            return Err(e);
        }
    };
    let (root, paths, action_op) = (
        active.rootfs().to_path_buf(),
        srcs.paths.clone(),
        op.clone(),
    );
    let applied = blocking(move || {
        let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
        apply_file_op(&action_op, &root, &refs, &ApplyOptions::default())?;
        Ok(())
    })
    .await;
    srcs.release().await;
    if let Err(e) = applied {
        let _ = active.cleanup().await;
        return Err(e);
    }
    let changes = active.finish().await?;
    let chain = super::key::fresh_chain(ctx, &key)?;
    super::commit::commit(ctx, changes, &chain, base.as_ref(), Vec::new()).await?;
    Ok(Some(chain))
}
