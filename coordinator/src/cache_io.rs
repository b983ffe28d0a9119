//! `--cache-from` and `--cache-to` for the embedded build service: the remote caches a
//! solve imports from, the records it is asked for, inline records written into the
//! images' configs, and the registry/local exports after the build.

use std::sync::Arc;

use oci_spec::image::Descriptor;
use slipway_farm::cache::{CacheExport, CacheExportTarget, CacheImport, CacheMode, CacheRecord};
use slipway_oci::registry::RegistryClient;
use slipway_oci::ContentStore;
use slipway_progress::ProgressEvent;
use slipway_worker::remote::{
    export_to_dir, export_to_registry, inline_cache_value, LocalCache, RegistryCache,
    RegistryExportOptions, RemoteCache, INLINE_KEY,
};
use slipway_worker::{CacheExportOptions, SolvedImage};
use tokio::sync::mpsc;

use crate::error::BuildError;

/// The caches of `from`, in order. One that cannot be read is a warning (as BuildKit's
/// "failed to import cache"), and the build goes on without it.
pub(crate) async fn imports(
    registry: &Arc<RegistryClient>,
    from: &[CacheImport],
    progress: &mpsc::Sender<ProgressEvent>,
) -> Vec<Arc<dyn RemoteCache>> {
    let mut out: Vec<Arc<dyn RemoteCache>> = Vec::new();
    for import in from {
        match import {
            CacheImport::Registry { reference } => {
                match RegistryCache::open(registry.clone(), reference).await {
                    Ok(cache) => {
                        if let Some(w) = cache.warning() {
                            warn(progress, w.to_string()).await;
                        }
                        if !cache.is_empty() {
                            out.push(Arc::new(cache));
                        }
                    }
                    Err(e) => {
                        warn(progress, format!("failed to import cache {reference}: {e}")).await
                    }
                }
            }
            CacheImport::Local { src } => match LocalCache::open(src) {
                Ok(cache) => out.push(Arc::new(cache)),
                Err(e) => {
                    warn(
                        progress,
                        format!("failed to import cache {}: {e}", src.display()),
                    )
                    .await
                }
            },
        }
    }
    out
}

/// What the solve must hand back for `to` (`None`: no `--cache-to`).
pub(crate) fn export_options(to: &[CacheExport]) -> Option<CacheExportOptions> {
    (!to.is_empty()).then(|| CacheExportOptions::for_exports(to))
}

/// The records whose layers are a prefix of one of `images`' layers (what `mode=min`
/// keeps: the final stages' steps).
pub(crate) fn prefixes_of(images: &[SolvedImage], records: &[CacheRecord]) -> Vec<CacheRecord> {
    let lists: Vec<Vec<String>> = images
        .iter()
        .map(|i| i.layers.iter().map(|l| l.digest().to_string()).collect())
        .collect();
    records
        .iter()
        .filter(|r| {
            lists.iter().any(|digests| {
                r.layers.len() <= digests.len()
                    && r.layers.iter().zip(digests).all(|(l, d)| &l.digest == d)
            })
        })
        .cloned()
        .collect()
}

/// With `type=inline`: each image's config gets the records whose layers are a prefix of
/// that image's layers, under `slipway.cache.v1`; the manifest is rewritten to match.
pub(crate) fn embed_inline(
    store: &ContentStore,
    images: &mut [SolvedImage],
    records: &[CacheRecord],
) -> Result<(), BuildError> {
    for image in images.iter_mut() {
        let own = prefixes_of(std::slice::from_ref(image), records);
        let (manifest, config) = rewrite_config(
            store,
            &image.manifest,
            &image.config,
            inline_cache_value(&own),
        )?;
        image.manifest = manifest;
        image.config = config;
    }
    Ok(())
}

fn rewrite_config(
    store: &ContentStore,
    manifest: &Descriptor,
    config: &Descriptor,
    value: serde_json::Value,
) -> Result<(Descriptor, Descriptor), BuildError> {
    let bad = |what: &str, reason: String| BuildError::CacheExport {
        target: "inline".into(),
        message: format!("{what}: {reason}"),
    };
    let read = |d: &Descriptor| -> Result<serde_json::Value, BuildError> {
        let digest =
            slipway_oci::Digest::try_from(d.digest()).map_err(|e| bad("digest", e.to_string()))?;
        let bytes = store
            .read_blob(&digest)
            .map_err(|e| bad("reading the image", e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| bad("parsing the image", e.to_string()))
    };
    let canonical = slipway_oci::image::json::canonical_json::<serde_json::Value>;
    let mut cfg = read(config)?;
    if let Some(obj) = cfg.as_object_mut() {
        obj.insert(INLINE_KEY.to_string(), value);
    }
    let cfg_bytes = canonical(&cfg).map_err(|e| bad("config", e.to_string()))?;
    let cfg_digest = store
        .put_bytes(&cfg_bytes)
        .map_err(|e| bad("storing the config", e.to_string()))?;
    let mut new_config = config.clone();
    new_config.set_digest(cfg_digest.to_oci());
    new_config.set_size(cfg_bytes.len() as u64);
    let mut man = read(manifest)?;
    man["config"]["digest"] = serde_json::json!(cfg_digest.to_string());
    man["config"]["size"] = serde_json::json!(cfg_bytes.len());
    let man_bytes = canonical(&man).map_err(|e| bad("manifest", e.to_string()))?;
    let man_digest = store
        .put_bytes(&man_bytes)
        .map_err(|e| bad("storing the manifest", e.to_string()))?;
    let mut new_manifest = manifest.clone();
    new_manifest.set_digest(man_digest.to_oci());
    new_manifest.set_size(man_bytes.len() as u64);
    Ok((new_manifest, new_config))
}

/// Writes the registry and local cache exports of `to` (inline ones were embedded).
/// A failed export with `ignore-error=true` is a warning.
pub(crate) async fn run_exports(
    to: &[CacheExport],
    records: &[CacheRecord],
    images: &[SolvedImage],
    store: &ContentStore,
    registry: &RegistryClient,
    progress: &mpsc::Sender<ProgressEvent>,
) -> Result<(), BuildError> {
    for export in to {
        let selected: Vec<CacheRecord> = match export.mode {
            CacheMode::Max => records.to_vec(),
            // The solve collected max records if another export asked for them.
            CacheMode::Min => prefixes_of(images, records),
        };
        let (target, result) = match &export.target {
            CacheExportTarget::Inline => continue,
            CacheExportTarget::Registry { reference } => {
                let Some(opts) = RegistryExportOptions::from_export(export) else {
                    continue;
                };
                (
                    reference.clone(),
                    export_to_registry(&selected, store, registry, &opts)
                        .await
                        .map(|r| {
                            tracing::info!(
                                reference = %reference,
                                uploaded = r.blobs.blobs_uploaded,
                                skipped = r.blobs.blobs_skipped,
                                "cache exported"
                            );
                        }),
                )
            }
            CacheExportTarget::Local { dest } => (
                dest.display().to_string(),
                export_to_dir(&selected, store, dest, export.oci_media_types).map(|_| ()),
            ),
        };
        if let Err(e) = result {
            if export.ignore_error {
                warn(progress, format!("exporting cache to {target}: {e}")).await;
            } else {
                return Err(BuildError::CacheExport {
                    target,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

async fn warn(progress: &mpsc::Sender<ProgressEvent>, message: String) {
    tracing::warn!(%message, "cache");
    let _ = progress
        .send(ProgressEvent::Warning {
            vertex: None,
            message,
        })
        .await;
}
