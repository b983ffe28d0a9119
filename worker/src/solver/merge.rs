//! Merge vertices (`COPY --link` and friends): the layers of every input stacked in input
//! order. Each input layer is re-committed on top of the merged chain so far (a copy of
//! its overlay-format layer dir, whiteouts included) and keeps its layer blob.

use std::sync::Arc;

use super::{blocking, Ctx, Done, VertexError};
use crate::cache::{CacheKey, KeyBuilder};
use crate::snapshot::ChainId;

pub(crate) async fn run(
    ctx: &Ctx,
    inputs: &[Arc<Done>],
    key: CacheKey,
) -> Result<Option<ChainId>, VertexError> {
    let mut top: Option<ChainId> = None;
    for (i, done) in inputs.iter().enumerate() {
        let Some(chain) = &done.chain else {
            continue;
        };
        let mut layers = ctx.inner.snapshotter.chain(chain)?;
        layers.reverse();
        if i == 0 || top.is_none() {
            // The first non-empty input is the bottom of the merge as it is.
            top = Some(chain.clone());
            continue;
        }
        for layer in layers {
            if ctx.cancel.is_cancelled() {
                return Err(VertexError::Cancelled);
            }
            let id = crate::source::chain_for_key(
                &KeyBuilder::new("merge-layer")
                    .part("key", key.as_str())
                    .part("input", &i.to_string())
                    .part("layer", layer.chain_id.as_str())
                    .finish(),
            )?;
            if !ctx.inner.snapshotter.contains(&id) {
                let snapshotter = ctx.inner.snapshotter.clone();
                let (src, target, parent) = (layer.dir.clone(), id.clone(), top.clone());
                blocking(move || {
                    let prepared = snapshotter.prepare_layer_dir(&target, parent.as_ref())?;
                    copy_tree(&src, prepared.path())?;
                    snapshotter.commit(prepared)?;
                    Ok(())
                })
                .await?;
            }
            if let Some(blob) = ctx.inner.cache.layer(&layer.chain_id, "source")? {
                ctx.inner.cache.put_layer(&id, "source", &blob)?;
            }
            top = Some(id);
        }
    }
    Ok(top)
}

/// `cp -a src/. dest` (keeps owners, modes, times, xattrs and whiteout devices).
fn copy_tree(src: &std::path::Path, dest: &std::path::Path) -> Result<(), VertexError> {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(dest)
        .status()
        .map_err(VertexError::io("running cp -a into", dest))?;
    if !status.success() {
        return Err(VertexError::Io {
            op: "copying a layer into",
            path: dest.to_path_buf(),
            source: std::io::Error::other(format!("cp -a exited with {status}")),
        });
    }
    Ok(())
}
