//! Exporting a cache to a registry (`--cache-to type=registry,ref=R`): every blob the records
//! name is pushed from the content store into R's repository (skipped when the registry has
//! it), then the cache document and the cache manifest, tagged R.

use std::io::Write;

use futures_util::{StreamExt, TryStreamExt};
use slipway_farm::cache::{CacheExport, CacheExportTarget};
use slipway_oci::registry::{
    self, BlobOutcome, Descriptor, LocalBlob, Reference, RegistryClient, RegistryError,
};
use slipway_oci::{ContentStore, Digest};

use super::format::{
    cache_manifest, check_digest, distinct_blobs, CacheConfig, CACHE_CONFIG_MEDIA_TYPE,
};
use super::{CacheRecord, RemoteCacheError};

/// What pushing the blobs of a cache did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSummary {
    pub blobs_uploaded: u64,
    pub bytes_uploaded: u64,
    /// Already in the repository (HEAD answered).
    pub blobs_skipped: u64,
    pub bytes_skipped: u64,
}

/// What a whole registry cache export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryExportReport {
    /// Digest of the cache manifest now tagged with the reference.
    pub manifest: Digest,
    pub blobs: PushSummary,
}

/// Where and how a registry cache is written (from a `--cache-to type=registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryExportOptions {
    /// `host/repo:tag` of the cache manifest.
    pub reference: String,
    /// OCI media types for the manifest (else Docker schema 2).
    pub oci_media_types: bool,
}

impl RegistryExportOptions {
    /// The options of a registry export; `None` for other targets.
    pub fn from_export(export: &CacheExport) -> Option<RegistryExportOptions> {
        match &export.target {
            CacheExportTarget::Registry { reference } => Some(RegistryExportOptions {
                reference: reference.clone(),
                oci_media_types: export.oci_media_types,
            }),
            CacheExportTarget::Local { .. } | CacheExportTarget::Inline => None,
        }
    }
}

pub(crate) fn origin(reference: &str) -> String {
    format!("registry cache {reference}")
}

pub(crate) fn registry_err(origin: &str, source: RegistryError) -> RemoteCacheError {
    RemoteCacheError::Registry {
        origin: origin.to_string(),
        source,
    }
}

pub(crate) fn parse_ref(reference: &str) -> Result<Reference, RemoteCacheError> {
    registry::parse_reference(reference).map_err(|e| registry_err(&origin(reference), e))
}

/// Pushes every distinct blob of `records` from `store` into the repository of `reference`
/// (blobs the repository already has are skipped). A blob missing from the store is an error
/// before anything is sent.
pub async fn push_cache_blobs(
    records: &[CacheRecord],
    store: &ContentStore,
    registry: &RegistryClient,
    reference: &str,
) -> Result<PushSummary, RemoteCacheError> {
    let origin = origin(reference);
    let repo = parse_ref(reference)?;
    let mut blobs = Vec::new();
    for layer in distinct_blobs(records) {
        let digest = check_digest(&layer.digest, "layer digest", &origin)?;
        if !store.exists(&digest) {
            return Err(RemoteCacheError::BlobUnavailable {
                origin,
                digest: layer.digest,
                reason: "not in the worker's content store".into(),
            });
        }
        blobs.push(LocalBlob {
            descriptor: Descriptor::new(&layer.media_type, &layer.digest, layer.size),
            path: store.blob_path(&digest),
        });
    }
    let repo = &repo;
    // Owned items: a closure over `&LocalBlob` makes the future unprovably `Send`
    // (rust-lang/rust#102211), and callers spawn it.
    let outcomes: Vec<(BlobOutcome, u64)> = futures_util::stream::iter(blobs)
        .map(|blob: LocalBlob| async move {
            let outcome = registry.push_blob(repo, &blob, &[]).await?;
            Ok::<_, RegistryError>((outcome, blob.descriptor.size))
        })
        .buffer_unordered(registry.config().max_concurrent_uploads.max(1))
        .try_collect()
        .await
        .map_err(|e| registry_err(&origin, e))?;
    let mut summary = PushSummary::default();
    for (outcome, size) in outcomes {
        match outcome {
            BlobOutcome::Skipped => {
                summary.blobs_skipped += 1;
                summary.bytes_skipped += size;
            }
            BlobOutcome::Uploaded | BlobOutcome::Mounted { .. } => {
                summary.blobs_uploaded += 1;
                summary.bytes_uploaded += size;
            }
        }
    }
    Ok(summary)
}

/// Writes the cache document and the cache manifest for `records` and tags it `reference`
/// (the blobs must already be in the repository: [`push_cache_blobs`]). Returns the manifest
/// digest.
pub async fn write_cache_manifest(
    records: &[CacheRecord],
    registry: &RegistryClient,
    reference: &str,
    oci_media_types: bool,
) -> Result<Digest, RemoteCacheError> {
    let origin = origin(reference);
    let repo = parse_ref(reference)?;
    if repo.digest().is_some() {
        return Err(RemoteCacheError::InvalidReference {
            reference: reference.to_string(),
            reason: "a cache is written under a tag, not a digest".into(),
        });
    }
    let tag = repo.tag().unwrap_or("latest").to_string();
    let tagged = Reference::with_tag(
        repo.registry().to_string(),
        repo.repository().to_string(),
        tag,
    );
    let config = CacheConfig::from_records(records).to_bytes(&origin)?;
    let config_digest = Digest::of(&config);
    let mut file = tempfile::NamedTempFile::new().map_err(|source| RemoteCacheError::Io {
        origin: origin.clone(),
        op: "create temp file for",
        path: std::env::temp_dir(),
        source,
    })?;
    file.write_all(&config)
        .and_then(|()| file.flush())
        .map_err(|source| RemoteCacheError::Io {
            origin: origin.clone(),
            op: "write",
            path: file.path().to_path_buf(),
            source,
        })?;
    let blob = LocalBlob {
        descriptor: Descriptor::new(
            CACHE_CONFIG_MEDIA_TYPE,
            &config_digest.to_string(),
            config.len() as u64,
        ),
        path: file.path().to_path_buf(),
    };
    registry
        .push_blob(&repo, &blob, &[])
        .await
        .map_err(|e| registry_err(&origin, e))?;
    let manifest = cache_manifest(&config, &distinct_blobs(records), oci_media_types, &origin)?;
    let pushed = registry
        .push_manifest(&tagged, &manifest)
        .await
        .map_err(|e| registry_err(&origin, e))?;
    check_digest(&pushed, "pushed manifest digest", &origin)
}

/// Pushes the blobs, then the cache manifest ([`push_cache_blobs`] + [`write_cache_manifest`]).
pub async fn export_to_registry(
    records: &[CacheRecord],
    store: &ContentStore,
    registry: &RegistryClient,
    options: &RegistryExportOptions,
) -> Result<RegistryExportReport, RemoteCacheError> {
    let blobs = push_cache_blobs(records, store, registry, &options.reference).await?;
    let manifest = write_cache_manifest(
        records,
        registry,
        &options.reference,
        options.oci_media_types,
    )
    .await?;
    Ok(RegistryExportReport { manifest, blobs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_farm::cache::CacheMode;
    use std::path::PathBuf;

    #[test]
    fn options_only_for_registry_targets() {
        let mut e = CacheExport::new(CacheExportTarget::Registry {
            reference: "r/a:c".into(),
        });
        e.oci_media_types = false;
        e.mode = CacheMode::Max;
        assert_eq!(
            RegistryExportOptions::from_export(&e),
            Some(RegistryExportOptions {
                reference: "r/a:c".into(),
                oci_media_types: false
            })
        );
        let local = CacheExport::new(CacheExportTarget::Local {
            dest: PathBuf::from("/x"),
        });
        assert_eq!(RegistryExportOptions::from_export(&local), None);
        assert_eq!(
            RegistryExportOptions::from_export(&CacheExport::new(CacheExportTarget::Inline)),
            None
        );
    }

    #[tokio::test]
    async fn missing_store_blob_fails_before_any_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        // Port 9 (discard) on loopback: any request would fail with a connection error.
        let client = RegistryClient::new(Default::default(), Default::default());
        let digest = Digest::of(b"absent").to_string();
        let records = vec![CacheRecord {
            key: "c".repeat(64),
            layers: vec![super::super::CacheLayer {
                media_type: slipway_oci::media::OCI_LAYER_GZIP.into(),
                digest: digest.clone(),
                size: 6,
                diff_id: digest.clone(),
            }],
        }];
        let err = push_cache_blobs(&records, &store, &client, "127.0.0.1:9/a:cache")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RemoteCacheError::BlobUnavailable { digest: d, .. } if *d == digest),
            "{err}"
        );
    }
}

#[cfg(test)]
mod send_check {
    //! Compile-time check: every registry future can be spawned on a multi-threaded runtime.
    use super::*;
    use std::sync::Arc;

    #[allow(dead_code)]
    fn spawnable(store: Arc<ContentStore>, reg: Arc<RegistryClient>, recs: Vec<CacheRecord>) {
        let (s, r, c) = (store.clone(), reg.clone(), recs.clone());
        tokio::spawn(async move { push_cache_blobs(&c, &s, &r, "x").await.is_ok() });
        let (r, c) = (reg.clone(), recs.clone());
        tokio::spawn(async move { write_cache_manifest(&c, &r, "x", true).await.is_ok() });
        let opts = RegistryExportOptions {
            reference: "x".into(),
            oci_media_types: true,
        };
        let (s, r) = (store, reg.clone());
        tokio::spawn(async move { export_to_registry(&recs, &s, &r, &opts).await.is_ok() });
        tokio::spawn(async move { super::super::RegistryCache::open(reg, "x").await.is_ok() });
    }
}
