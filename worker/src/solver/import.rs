//! Making a remote cache hit's filesystem exist on this worker: each layer's blob fetched
//! from the remote cache into the content store (unless it is there), unpacked into a
//! snapshot keyed by its OCI chain ID (unless that exists), and remembered as the layer's
//! blob so exports reuse it byte for byte.

use slipway_farm::cache::CacheLayer;

use super::{Ctx, VertexError};
use crate::cache::{CacheKey, LayerBlob, ResultRecord};
use crate::remote::RemoteCacheError;
use crate::snapshot::ChainId;

pub(crate) async fn import(
    ctx: &Ctx,
    key: &CacheKey,
    layers: &[CacheLayer],
    source: usize,
) -> Result<Option<ChainId>, VertexError> {
    let remote = ctx
        .req
        .cache_imports
        .get(source)
        .ok_or(VertexError::NoResult {
            kind: "remote cache",
        })?;
    let origin = remote.describe();
    // One import at a time: two hits sharing base layers must not unpack them twice.
    let _one = ctx.inner.imports.lock().await;
    let tmp = ctx.inner.data_dir.join("tmp");
    let mut parent: Option<ChainId> = None;
    for layer in layers {
        if ctx.cancel.is_cancelled() {
            return Err(VertexError::Cancelled);
        }
        let chain = crate::source::oci_chain_id(parent.as_ref(), &layer.diff_id)?;
        if !ctx.inner.snapshotter.contains(&chain) {
            let digest: slipway_oci::Digest =
                layer
                    .digest
                    .parse()
                    .map_err(|e: slipway_oci::DigestError| RemoteCacheError::Format {
                        origin: origin.clone(),
                        reason: format!("layer digest {:?}: {e}", layer.digest),
                    })?;
            if !ctx.inner.store.exists(&digest) {
                tokio::select! {
                    r = remote.fetch(layer, &ctx.inner.store, &tmp) => r?,
                    _ = ctx.cancel.cancelled() => return Err(VertexError::Cancelled),
                }
                tracing::debug!(%key, blob = %digest, from = %origin, "cache blob fetched");
            }
            crate::source::image::unpack(
                ctx,
                &digest,
                &chain,
                parent.as_ref(),
                &layer.diff_id,
                &origin,
            )
            .await?;
        }
        ctx.inner.cache.put_layer(
            &chain,
            "source",
            &LayerBlob {
                media_type: layer.media_type.clone(),
                digest: layer.digest.clone(),
                size: layer.size,
                diff_id: layer.diff_id.clone(),
            },
        )?;
        parent = Some(chain);
    }
    ctx.inner.cache.put_result(
        key,
        &ResultRecord {
            chain: parent.clone(),
        },
    )?;
    Ok(parent)
}
