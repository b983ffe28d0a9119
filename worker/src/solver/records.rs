//! The cache records a solve hands back (`SolveResult::cache`): per vertex with a result,
//! its key and the layers of its filesystem as blobs in the content store.
//!
//! `Min` keeps the results whose layers are a prefix of an exported image's layers (the
//! final stage's steps, whose blobs the export made anyway); `Max` keeps every result,
//! compressing the layers no export produced.

use std::collections::HashMap;

use slipway_farm::cache::{CacheLayer, CacheMode, CacheRecord};
use slipway_graph::{Digest, Op};

use super::lazy::KeyState;
use super::run::{KeyFuture, VertexFuture};
use super::{CacheExportOptions, Ctx, SolvedImage, VertexError};
use crate::cache::LayerBlob;
use crate::snapshot::ChainId;

pub(crate) async fn collect(
    ctx: &Ctx,
    order: &[Digest],
    keys: &HashMap<Digest, KeyFuture>,
    results: &HashMap<Digest, VertexFuture>,
    images: &[SolvedImage],
    opts: CacheExportOptions,
) -> Result<Vec<CacheRecord>, VertexError> {
    let exported: Vec<Vec<String>> = images
        .iter()
        .map(|i| i.layers.iter().map(|l| l.digest().to_string()).collect())
        .collect();
    let compression = opts.compression.unwrap_or(ctx.req.export.compression);
    let mut out: Vec<CacheRecord> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for digest in order {
        let Some(vertex) = ctx.req.graph.get(digest) else {
            continue;
        };
        if matches!(vertex.op, Op::Source(_)) {
            continue;
        }
        let Some(Ok(keyed)) = keys.get(digest).and_then(|k| k.peek()) else {
            continue;
        };
        if !seen.insert(keyed.key.clone()) {
            continue;
        }
        let done = results
            .get(digest)
            .and_then(|r| r.peek())
            .and_then(|r| r.as_ref().ok());
        let layers = match (done, &keyed.state) {
            (Some(done), _) => {
                chain_layers(ctx, done.chain.as_ref(), opts.mode, compression).await?
            }
            (None, KeyState::Ready(chain)) => {
                chain_layers(ctx, chain.as_ref(), opts.mode, compression).await?
            }
            (None, KeyState::Remote { layers, .. }) => Some(layers.clone()),
            (None, KeyState::Miss) => None,
        };
        let Some(layers) = layers else {
            continue;
        };
        if opts.mode == CacheMode::Min && !is_prefix_of_any(&layers, &exported) {
            continue;
        }
        out.push(CacheRecord {
            key: keyed.key.as_str().to_string(),
            layers,
        });
    }
    Ok(out)
}

/// The blobs of `chain`'s layers, bottom first. In `Min` mode a layer without a blob ends
/// the search (`None`: the result is not part of an exported image); in `Max` mode it is
/// compressed now.
async fn chain_layers(
    ctx: &Ctx,
    chain: Option<&ChainId>,
    mode: CacheMode,
    compression: slipway_oci::layer::CompressionOptions,
) -> Result<Option<Vec<CacheLayer>>, VertexError> {
    let Some(chain) = chain else {
        return Ok(Some(Vec::new()));
    };
    let mut layers = ctx.inner.snapshotter.chain(chain)?;
    layers.reverse();
    let mut out = Vec::with_capacity(layers.len());
    for layer in layers {
        let blob = match super::export::existing_blob(ctx, &layer.chain_id, &compression)? {
            Some(b) => b,
            None if mode == CacheMode::Max => {
                super::export::layer_blob_as(ctx, layer, compression).await?
            }
            None => return Ok(None),
        };
        out.push(cache_layer(blob));
    }
    Ok(Some(out))
}

fn cache_layer(b: LayerBlob) -> CacheLayer {
    CacheLayer {
        media_type: b.media_type,
        digest: b.digest,
        size: b.size,
        diff_id: b.diff_id,
    }
}

fn is_prefix_of_any(layers: &[CacheLayer], images: &[Vec<String>]) -> bool {
    images.iter().any(|img| {
        layers.len() <= img.len()
            && layers
                .iter()
                .zip(img)
                .all(|(l, digest)| &l.digest == digest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(d: &str) -> CacheLayer {
        CacheLayer {
            media_type: "m".into(),
            digest: d.into(),
            size: 1,
            diff_id: d.into(),
        }
    }

    #[test]
    fn prefixes_of_exported_images_only() {
        let images = vec![vec!["a".to_string(), "b".into(), "c".into()]];
        assert!(is_prefix_of_any(&[], &images));
        assert!(is_prefix_of_any(&[layer("a"), layer("b")], &images));
        assert!(is_prefix_of_any(
            &[layer("a"), layer("b"), layer("c")],
            &images
        ));
        assert!(!is_prefix_of_any(&[layer("b")], &images));
        assert!(!is_prefix_of_any(
            &[layer("a"), layer("b"), layer("c"), layer("d")],
            &images
        ));
    }
}
