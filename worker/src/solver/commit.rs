//! Committing a finished step's changes as a snapshot layer: an overlay upper dir is moved
//! into place (after pruning mount-point copy-ups); a copy-backend tree is diffed against
//! its base, and the diff (with whiteouts in overlay form) becomes the layer dir.

use std::path::PathBuf;

use slipway_oci::layer::{
    apply_layer, write_diff_layer, ApplyOptions, CompressionOptions, LayerOptions,
};

use super::{blocking, Ctx, VertexError};
use crate::mounts::RemoveOnDrop;
use crate::snapshot::{ChainId, SnapshotChanges};

/// Commits `changes` as `chain` on `base`. `mount_targets` are the container paths
/// mounted during the step (their copied-up parents are pruned).
pub(crate) async fn commit(
    ctx: &Ctx,
    changes: SnapshotChanges,
    chain: &ChainId,
    base: Option<&ChainId>,
    mount_targets: Vec<String>,
) -> Result<(), VertexError> {
    let snapshotter = ctx.inner.snapshotter.clone();
    let lower: Vec<PathBuf> = match base {
        Some(b) => snapshotter.chain(b)?.into_iter().map(|l| l.dir).collect(),
        None => Vec::new(),
    };
    let (target, parent) = (chain.clone(), base.cloned());
    match changes {
        SnapshotChanges::Upper(ref upper) => {
            let upper = upper.path().to_path_buf();
            blocking(move || {
                super::prune::prune_mount_parents(&upper, &mount_targets, &lower);
                snapshotter.commit_changes(changes, &target, parent.as_ref())?;
                Ok(())
            })
            .await
        }
        SnapshotChanges::FullTree { root, .. } => {
            let tmp = ctx.inner.data_dir.join("tmp");
            let base_view = match base {
                Some(b) => Some(snapshotter.prepare_active(Some(b)).await?),
                None => None,
            };
            let empty = tmp.join(format!("empty-{}", uuid::Uuid::new_v4()));
            let tar = tmp.join(format!("diff-{}.tar", uuid::Uuid::new_v4()));
            let guards = (RemoveOnDrop(empty.clone()), RemoveOnDrop(tar.clone()));
            let lower_root = match &base_view {
                Some(v) => v.rootfs().to_path_buf(),
                None => {
                    std::fs::create_dir(&empty).map_err(VertexError::io("creating", &empty))?;
                    empty.clone()
                }
            };
            let result = blocking(move || {
                let file =
                    std::fs::File::create(&tar).map_err(VertexError::io("creating", &tar))?;
                let opts = LayerOptions {
                    compression: CompressionOptions::uncompressed(),
                    ..Default::default()
                };
                write_diff_layer(&lower_root, root.path(), file, &opts)?;
                drop(root);
                let prepared = snapshotter.prepare_layer_dir(&target, parent.as_ref())?;
                let open = || std::fs::File::open(&tar).map_err(VertexError::io("opening", &tar));
                apply_layer(open()?, prepared.path(), &ApplyOptions::default())?;
                let whiteouts = crate::source::whiteout::scan(open()?)?;
                crate::source::whiteout::apply(prepared.path(), &whiteouts, &lower)?;
                snapshotter.commit(prepared)?;
                Ok(())
            })
            .await;
            if let Some(v) = base_view {
                v.cleanup().await?;
            }
            drop(guards);
            result
        }
    }
}
