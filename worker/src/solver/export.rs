//! Writing an output's image: a layer blob per snapshot of the root's chain (reused from
//! the pulled image or an earlier solve, else produced from the overlay-format layer dir),
//! the config (graph image config + diff IDs + history) and the manifest.

use std::collections::HashMap;

use oci_spec::image::{Config, Descriptor};
use slipway_graph::{GraphOutput, ImageConfig};
use slipway_oci::image::{write_image, HistoryEntry, ImageInput, ImageLayer, ImageOptions};
use slipway_oci::layer::{write_overlay_layer, LayerOptions};

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
    Ok(SolvedImage {
        platform: output.platform.clone(),
        target: output.target.clone(),
        manifest: image.manifest,
        config: image.config,
        layers: layers.into_iter().map(|l| l.descriptor).collect(),
        image_config: output.image.clone(),
    })
}

/// The cache variant name of a produced layer blob.
fn variant(ctx: &Ctx) -> String {
    let c = &ctx.req.export.compression;
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

/// The blob of one snapshot: the pulled one, one produced earlier, or a new one.
async fn layer_blob(ctx: &Ctx, layer: CommittedLayer) -> Result<LayerBlob, VertexError> {
    let variant = variant(ctx);
    for v in ["source", variant.as_str()] {
        if let Some(b) = ctx.inner.cache.layer(&layer.chain_id, v)? {
            let present = b
                .digest
                .parse::<slipway_oci::Digest>()
                .is_ok_and(|d| ctx.inner.store.exists(&d));
            if present {
                return Ok(b);
            }
        }
    }
    let store = ctx.inner.store.clone();
    let opts = LayerOptions {
        compression: ctx.req.export.compression,
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
        .put_layer(&layer.chain_id, &variant, &blob)?;
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

/// The OCI runtime config of the graph's image config. Healthcheck, Shell, OnBuild and
/// ArgsEscaped are Docker extensions the OCI config has no field for.
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
