//! `--cache-from` and `--cache-to` for the embedded build service: the remote caches a
//! solve imports from, the records it is asked for, inline records written into the
//! images' configs, and the registry/local exports after the build.

use std::sync::Arc;

use slipway_farm::cache::{CacheExport, CacheExportTarget, CacheImport, CacheMode, CacheRecord};
use slipway_oci::registry::RegistryClient;
use slipway_oci::ContentStore;
use slipway_progress::ProgressEvent;
use slipway_worker::remote::{
    embed_inline, export_to_dir, export_to_registry, prefixes_of, LocalCache, RegistryCache,
    RegistryExportOptions, RemoteCache,
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

/// With `type=inline`: each image's config gets its records ([`embed_inline`]).
pub(crate) fn embed_inline_records(
    store: &ContentStore,
    images: &mut [SolvedImage],
    records: &[CacheRecord],
) -> Result<(), BuildError> {
    embed_inline(store, images, records).map_err(|e| BuildError::CacheExport {
        target: "inline".into(),
        message: e.to_string(),
    })
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
