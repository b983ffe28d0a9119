//! Writing an output's image: a layer blob per snapshot of the root's chain (reused from
//! the pulled image or an earlier solve, else produced from the overlay-format layer dir),
//! the config (graph image config + diff IDs + history) and the manifest.

use std::collections::HashMap;

use oci_spec::image::{Config, Descriptor};
use slipway_graph::{GraphOutput, ImageConfig};
use slipway_oci::image::{write_image, HistoryEntry, ImageInput, ImageLayer, ImageOptions};
use slipway_oci::layer::{write_overlay_layer, CompressionOptions, LayerOptions};

use super::{blocking, Ctx, SolvedImage, VertexError};
use crate::cache::LayerBlob;
use crate::snapshot::{ChainId, CommittedLayer};

pub(crate) async fn export(
    ctx: &Ctx,
    output: &GraphOutput,
    chain: Option<&ChainId>,
) -> Result<SolvedImage, VertexError> {
    let mut layers: Vec<CommittedLayer> = match chain {
        Some(c) => ctx.inner.snapshotter.chain(c)?,
        None => Vec::new(),
    };
    layers.reverse();
    let mut image_layers = Vec::with_capacity(layers.len());
    for layer in layers {
        if ctx.cancel.is_cancelled() {
            return Err(VertexError::Cancelled);
        }
        let blob = layer_blob(ctx, layer).await?;
        let digest: slipway_oci::Digest =
            blob.digest
                .parse()
                .map_err(|e: slipway_oci::DigestError| VertexError::BadImage {
                    reference: blob.digest.clone(),
                    reason: e.to_string(),
                })?;
        let diff_id: slipway_oci::Digest =
            blob.diff_id
                .parse()
                .map_err(|e: slipway_oci::DigestError| VertexError::BadImage {
                    reference: blob.diff_id.clone(),
                    reason: e.to_string(),
                })?;
        image_layers.push(ImageLayer {
            descriptor: Descriptor::new(
                blob.media_type.as_str().into(),
                blob.size,
                digest.to_oci(),
            ),
            diff_id,
        });
    }
    let mut history = history(&output.image);
    let non_empty = history.iter().filter(|h| !h.empty_layer).count();
    if !history.is_empty() && non_empty != image_layers.len() {
        ctx.progress
            .warning(
                None,
                format!(
                    "image history of {} has {non_empty} layer entries for {} layers; writing no history",
                    output.platform,
                    image_layers.len()
                ),
            )
            .await;
        history.clear();
    }
    let input = ImageInput {
        platform: output.platform.clone(),
        config: Some(runtime_config(&output.image)),
        author: output.image.author.clone(),
        layers: image_layers,
        history,
    };
    let opts = ImageOptions {
        media_types: ctx.req.export.media_types,
        source_date_epoch: ctx.req.source_date_epoch,
        ..Default::default()
    };
    let store = ctx.inner.store.clone();
    let written = blocking(move || {
        let r = write_image(&store, &input, &opts)?;
        Ok((r, input.layers))
    })
    .await?;
    let (image, layers) = written;
    let (manifest, config) = match docker_extensions(&output.image) {
        Some(extra) => {
            let store = ctx.inner.store.clone();
            let image = image.clone();
            blocking(move || add_config_fields(&store, &image, extra)).await?
        }
        None => (image.manifest, image.config),
    };
    Ok(SolvedImage {
        platform: output.platform.clone(),
        target: output.target.clone(),
        manifest,
        config,
        layers: layers.into_iter().map(|l| l.descriptor).collect(),
        image_config: output.image.clone(),
    })
}

/// The cache variant name of a layer blob produced with `c`.
fn variant(ctx: &Ctx, c: &CompressionOptions) -> String {
    let epoch = ctx
        .req
        .source_date_epoch
        .map_or_else(|| "none".to_string(), |e| e.to_string());
    format!(
        "{:?}-{}-{}-epoch-{epoch}",
        c.kind,
        c.level
            .map_or_else(|| "default".to_string(), |l| l.to_string()),
        match ctx.req.export.media_types {
            slipway_oci::MediaTypes::Oci => "oci",
            slipway_oci::MediaTypes::Docker => "docker",
        }
    )
    .to_ascii_lowercase()
}

/// The blob of snapshot layer `chain` already in the content store: the pulled or
/// imported one, else one produced earlier with `compression`.
pub(crate) fn existing_blob(
    ctx: &Ctx,
    chain: &ChainId,
    compression: &CompressionOptions,
) -> Result<Option<LayerBlob>, VertexError> {
    let variant = variant(ctx, compression);
    for v in ["source", variant.as_str()] {
        if let Some(b) = ctx.inner.cache.layer(chain, v)? {
            let present = b
                .digest
                .parse::<slipway_oci::Digest>()
                .is_ok_and(|d| ctx.inner.store.exists(&d));
            if present {
                return Ok(Some(b));
            }
        }
    }
    Ok(None)
}

/// The blob of one snapshot for the image export.
async fn layer_blob(ctx: &Ctx, layer: CommittedLayer) -> Result<LayerBlob, VertexError> {
    layer_blob_as(ctx, layer, ctx.req.export.compression).await
}

/// The blob of one snapshot: the pulled one, one produced earlier, or a new one made with
/// `compression`.
pub(crate) async fn layer_blob_as(
    ctx: &Ctx,
    layer: CommittedLayer,
    compression: CompressionOptions,
) -> Result<LayerBlob, VertexError> {
    if let Some(b) = existing_blob(ctx, &layer.chain_id, &compression)? {
        return Ok(b);
    }
    let store = ctx.inner.store.clone();
    let opts = LayerOptions {
        compression,
        source_date_epoch: ctx.req.source_date_epoch,
        media_types: ctx.req.export.media_types,
    };
    let dir = layer.dir.clone();
    let blob = blocking(move || {
        let writer = store.writer()?;
        let (writer, info) = write_overlay_layer(&dir, writer, &opts)?;
        writer.commit(Some(&info.digest))?;
        Ok(LayerBlob {
            media_type: info.media_type,
            digest: info.digest.to_string(),
            size: info.size,
            diff_id: info.diff_id.to_string(),
        })
    })
    .await?;
    ctx.inner
        .cache
        .put_layer(&layer.chain_id, &variant(ctx, &compression), &blob)?;
    Ok(blob)
}

fn history(image: &ImageConfig) -> Vec<HistoryEntry> {
    image
        .history
        .iter()
        .map(|h| HistoryEntry {
            created_by: h.created_by.clone(),
            comment: (!h.comment.is_empty()).then(|| h.comment.clone()),
            empty_layer: h.empty_layer,
        })
        .collect()
}

/// The OCI runtime config of the graph's image config (Docker's extensions are added by
/// [`add_config_fields`]).
fn runtime_config(image: &ImageConfig) -> Config {
    let mut c = Config::default();
    let nonempty = |s: &String| (!s.is_empty()).then(|| s.clone());
    c.set_user(nonempty(&image.user));
    c.set_working_dir(nonempty(&image.working_dir));
    c.set_env((!image.env.is_empty()).then(|| image.env.clone()));
    c.set_cmd(image.cmd.clone());
    c.set_entrypoint(image.entrypoint.clone());
    c.set_exposed_ports(
        (!image.exposed_ports.is_empty()).then(|| image.exposed_ports.iter().cloned().collect()),
    );
    c.set_volumes((!image.volumes.is_empty()).then(|| image.volumes.iter().cloned().collect()));
    c.set_labels((!image.labels.is_empty()).then(|| {
        image
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    }));
    c.set_stop_signal(image.stop_signal.clone());
    c
}

/// Docker's config fields that the OCI config type has no room for (Healthcheck, Shell,
/// OnBuild, ArgsEscaped), as JSON, when the image sets any.
fn docker_extensions(image: &ImageConfig) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut m = serde_json::Map::new();
    if let Some(h) = &image.healthcheck {
        m.insert("Healthcheck".into(), serde_json::to_value(h).ok()?);
    }
    if let Some(sh) = &image.shell {
        m.insert("Shell".into(), serde_json::json!(sh));
    }
    if !image.on_build.is_empty() {
        m.insert("OnBuild".into(), serde_json::json!(image.on_build));
    }
    if image.args_escaped {
        m.insert("ArgsEscaped".into(), serde_json::Value::Bool(true));
    }
    (!m.is_empty()).then_some(m)
}

/// Rewrites the written config with `extra` fields in its `config` object, and the
/// manifest to point at it; returns the new manifest and config descriptors.
fn add_config_fields(
    store: &slipway_oci::ContentStore,
    image: &slipway_oci::image::ImageRef,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<(Descriptor, Descriptor), VertexError> {
    let bad = |what: &str, e: serde_json::Error| VertexError::BadImage {
        reference: what.to_string(),
        reason: e.to_string(),
    };
    let canonical = slipway_oci::image::json::canonical_json::<serde_json::Value>;
    let mut config: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&image.config_digest)?)
            .map_err(|e| bad("config", e))?;
    if let Some(obj) = config.as_object_mut() {
        let section = obj
            .entry("config")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(section) = section.as_object_mut() {
            section.extend(extra);
        }
    }
    let config_bytes = canonical(&config).map_err(|e| bad("config", e))?;
    let config_digest = store.put_bytes(&config_bytes)?;
    let mut config_desc = image.config.clone();
    config_desc.set_digest(config_digest.to_oci());
    config_desc.set_size(config_bytes.len() as u64);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&image.manifest_digest)?)
            .map_err(|e| bad("manifest", e))?;
    manifest["config"]["digest"] = serde_json::json!(config_digest.to_string());
    manifest["config"]["size"] = serde_json::json!(config_bytes.len());
    let manifest_bytes = canonical(&manifest).map_err(|e| bad("manifest", e))?;
    let manifest_digest = store.put_bytes(&manifest_bytes)?;
    let mut manifest_desc = image.manifest.clone();
    manifest_desc.set_digest(manifest_digest.to_oci());
    manifest_desc.set_size(manifest_bytes.len() as u64);
    Ok((manifest_desc, config_desc))
}
