//! Base images: resolve the reference for the vertex's platform, pull what is missing into
//! the content store and unpack each layer into a snapshot keyed by its OCI chain ID.
//!
//! A resolved image is remembered in the cache index (reference + platform → manifest
//! digest + top chain), so later solves neither touch the network nor unpack anything
//! unless the request asks to `pull` again. Digest-pinned references skip resolution.

use std::path::PathBuf;
use std::time::Instant;

use serde::Deserialize;
use slipway_graph::{Digest, ImageSource, Vertex};
use slipway_oci::layer::{apply_layer, ApplyOptions};
use slipway_oci::registry::{self, Reference};
use slipway_progress::VertexStatus;

use crate::cache::{CacheKey, ImageRecord, KeyBuilder, LayerBlob};
use crate::snapshot::ChainId;
use crate::solver::{blocking, Ctx, Done, VertexError};

#[derive(Deserialize)]
struct RawConfig {
    rootfs: RawRootfs,
}

#[derive(Deserialize)]
struct RawRootfs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

pub(crate) async fn solve(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    src: &ImageSource,
) -> Result<Done, VertexError> {
    let platform = vertex.platform.to_string();
    if src.reference == "scratch" {
        return Ok(Done {
            chain: None,
            key: KeyBuilder::new("scratch").finish(),
            listing: None,
        });
    }
    let mut reference = registry::parse_reference(&src.reference)?;
    if let Some(d) = &src.resolved {
        reference = reference.clone_with_digest(d.to_string());
    }
    let record_name = reference.whole();
    let pinned = reference.digest().is_some();
    let inner = &ctx.inner;
    if !ctx.req.pull || pinned {
        if let Some(rec) = inner.cache.image(&record_name, &platform)? {
            if rec
                .chain
                .as_ref()
                .is_none_or(|c| inner.snapshotter.contains(c))
            {
                ctx.progress
                    .vertex(digest, vertex, VertexStatus::Cached)
                    .await;
                return Ok(done(digest, rec));
            }
        }
    }
    let pulled =
        cancellable(ctx, inner.registry.pull_image(&reference, &vertex.platform)).await??;
    let repo = reference.clone_with_digest(pulled.manifest_digest.clone());
    let config = pull_small_blob(ctx, &repo, &pulled.manifest.config).await?;
    let raw: RawConfig = serde_json::from_slice(&config).map_err(|e| VertexError::BadImage {
        reference: record_name.clone(),
        reason: format!("config: {e}"),
    })?;
    let layers = &pulled.manifest.layers;
    if raw.rootfs.diff_ids.len() != layers.len() {
        return Err(VertexError::BadImage {
            reference: record_name,
            reason: format!(
                "config lists {} diff IDs for {} layers",
                raw.rootfs.diff_ids.len(),
                layers.len()
            ),
        });
    }
    let mut chains: Vec<ChainId> = Vec::with_capacity(layers.len());
    for diff_id in &raw.rootfs.diff_ids {
        let next = super::oci_chain_id(chains.last(), diff_id)?;
        chains.push(next);
    }
    let record = ImageRecord {
        manifest_digest: pulled.manifest_digest.clone(),
        chain: chains.last().cloned(),
    };
    let all_present = chains.iter().all(|c| inner.snapshotter.contains(c));
    if all_present {
        inner.cache.put_image(&record_name, &platform, &record)?;
        ctx.progress
            .vertex(digest, vertex, VertexStatus::Cached)
            .await;
        return Ok(done(digest, record));
    }
    ctx.progress
        .vertex(digest, vertex, VertexStatus::Started)
        .await;
    let started = Instant::now();
    for (i, (layer, chain)) in layers.iter().zip(&chains).enumerate() {
        if ctx.cancel.is_cancelled() {
            return Err(VertexError::Cancelled);
        }
        let parent = i.checked_sub(1).and_then(|p| chains.get(p));
        let diff_id = raw.rootfs.diff_ids.get(i).cloned().unwrap_or_default();
        let blob = LayerBlob {
            media_type: layer.media_type.clone(),
            digest: layer.digest.clone(),
            size: layer.size,
            diff_id: diff_id.clone(),
        };
        if !inner.snapshotter.contains(chain) {
            let blob_digest = store_digest(&layer.digest, &record_name)?;
            if !inner.store.exists(&blob_digest) {
                pull_layer(ctx, &repo, layer, &blob_digest).await?;
            }
            unpack(ctx, &blob_digest, chain, parent, &diff_id, &record_name).await?;
        }
        inner.cache.put_layer(chain, "source", &blob)?;
    }
    inner.cache.put_image(&record_name, &platform, &record)?;
    ctx.progress
        .vertex(
            digest,
            vertex,
            VertexStatus::Done {
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            },
        )
        .await;
    Ok(done(digest, record))
}

/// The cache key of a base image: its vertex and the manifest it resolved to.
fn image_key(digest: &Digest, manifest_digest: &str) -> CacheKey {
    KeyBuilder::new("image")
        .part("vertex", digest.as_str())
        .part("manifest", manifest_digest)
        .finish()
}

/// The key of a base image pinned to a manifest digest that is not unpacked here yet:
/// known without the network, so the image is pulled only if a step that uses it runs.
/// `None`: solve it now ([`solve`]), because it is here already or not pinned.
pub(crate) fn lazy_key(
    ctx: &Ctx,
    digest: &Digest,
    src: &ImageSource,
) -> Result<Option<CacheKey>, VertexError> {
    let Some(resolved) = &src.resolved else {
        return Ok(None);
    };
    if src.reference == "scratch" {
        return Ok(None);
    }
    let reference =
        registry::parse_reference(&src.reference)?.clone_with_digest(resolved.to_string());
    let platform = ctx
        .req
        .graph
        .get(digest)
        .map(|v| v.platform.to_string())
        .unwrap_or_default();
    if let Some(rec) = ctx.inner.cache.image(&reference.whole(), &platform)? {
        if rec
            .chain
            .as_ref()
            .is_none_or(|c| ctx.inner.snapshotter.contains(c))
        {
            return Ok(None);
        }
    }
    Ok(Some(image_key(digest, resolved.as_str())))
}

fn done(digest: &Digest, rec: ImageRecord) -> Done {
    let key = image_key(digest, &rec.manifest_digest);
    Done {
        chain: rec.chain,
        key,
        listing: None,
    }
}

async fn cancellable<T>(
    ctx: &Ctx,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, VertexError> {
    tokio::select! {
        v = fut => Ok(v),
        _ = ctx.cancel.cancelled() => Err(VertexError::Cancelled),
    }
}

fn store_digest(s: &str, reference: &str) -> Result<slipway_oci::Digest, VertexError> {
    s.parse()
        .map_err(|e: slipway_oci::DigestError| VertexError::BadImage {
            reference: reference.to_string(),
            reason: format!("blob digest {s:?}: {e}"),
        })
}

/// Largest image config accepted (configs are read into memory).
const CONFIG_LIMIT: u64 = 16 << 20;

/// A config blob: from the store, else pulled into memory and stored.
async fn pull_small_blob(
    ctx: &Ctx,
    repo: &Reference,
    desc: &registry::Descriptor,
) -> Result<Vec<u8>, VertexError> {
    let d = store_digest(&desc.digest, &repo.whole())?;
    if desc.size > CONFIG_LIMIT {
        return Err(VertexError::BadImage {
            reference: repo.whole(),
            reason: format!(
                "config blob of {} bytes exceeds the {CONFIG_LIMIT}-byte limit",
                desc.size
            ),
        });
    }
    if ctx.inner.store.exists(&d) {
        return Ok(ctx.inner.store.read_blob(&d)?);
    }
    let mut buf: Vec<u8> = Vec::new();
    cancellable(
        ctx,
        ctx.inner.registry.pull_blob_to_writer(repo, desc, &mut buf),
    )
    .await??;
    ctx.inner.store.put_bytes(&buf)?;
    Ok(buf)
}

/// Streams a layer blob to a temp file, then ingests it (verified) into the store.
async fn pull_layer(
    ctx: &Ctx,
    repo: &Reference,
    desc: &registry::Descriptor,
    digest: &slipway_oci::Digest,
) -> Result<(), VertexError> {
    let tmp: PathBuf = ctx
        .inner
        .data_dir
        .join("tmp")
        .join(format!("pull-{}", uuid::Uuid::new_v4()));
    let _guard = crate::mounts::RemoveOnDrop(tmp.clone());
    cancellable(ctx, ctx.inner.registry.pull_blob_to_file(repo, desc, &tmp)).await??;
    let store = ctx.inner.store.clone();
    let expected = *digest;
    blocking(move || {
        let f = std::fs::File::open(&tmp).map_err(VertexError::io("opening", &tmp))?;
        store.ingest(f, Some(&expected))?;
        Ok(())
    })
    .await
}

/// Applies the stored blob into a new snapshot layer `chain` (whiteouts in overlay form).
pub(crate) async fn unpack(
    ctx: &Ctx,
    blob: &slipway_oci::Digest,
    chain: &ChainId,
    parent: Option<&ChainId>,
    diff_id: &str,
    reference: &str,
) -> Result<(), VertexError> {
    let snapshotter = ctx.inner.snapshotter.clone();
    let store = ctx.inner.store.clone();
    let (blob, chain, parent) = (*blob, chain.clone(), parent.cloned());
    let (diff_id, reference) = (diff_id.to_string(), reference.to_string());
    blocking(move || {
        let prepared = snapshotter.prepare_layer_dir(&chain, parent.as_ref())?;
        let stats = apply_layer(
            store.open_blob(&blob)?,
            prepared.path(),
            &ApplyOptions::default(),
        )?;
        if stats.diff_id.to_string() != diff_id {
            return Err(VertexError::BadImage {
                reference,
                reason: format!(
                    "layer {blob} has diff ID {} but the config says {diff_id}",
                    stats.diff_id
                ),
            });
        }
        let whiteouts = super::whiteout::scan(store.open_blob(&blob)?)?;
        if !whiteouts.is_empty() {
            let lower = match &parent {
                Some(p) => snapshotter.chain(p)?.into_iter().map(|l| l.dir).collect(),
                None => Vec::new(),
            };
            super::whiteout::apply(prepared.path(), &whiteouts, &lower)?;
        }
        snapshotter.commit(prepared)?;
        Ok(())
    })
    .await
}
