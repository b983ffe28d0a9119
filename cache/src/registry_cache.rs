//! Importing a cache from a registry (`--cache-from type=registry,ref=R`): R is either a
//! cache manifest (see [`super::format`]) or an ordinary image or image index whose configs
//! carry inline cache (see [`super::inline`]). Records are read once, at open; blobs are
//! streamed from R's repository into the content store when the solver needs them.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use slipway_oci::registry::{Descriptor, Manifest, Reference, RegistryClient, RegistryError};
use slipway_oci::{media, ContentStore};

use super::format::{
    check_digest, dedupe_records, format_err, too_large, CacheConfig,
    BUILDKIT_CACHE_CONFIG_MEDIA_TYPE, CACHE_CONFIG_MEDIA_TYPE, MAX_DOCUMENT_BYTES,
};
use super::inline::parse_inline_at;
use super::registry::{origin, parse_ref, registry_err};
use super::store_copy::ingest_file;
use super::{CacheLayer, CacheRecord, RemoteCache, RemoteCacheError};

/// A cache read from a registry reference.
pub struct RegistryCache {
    registry: Arc<RegistryClient>,
    reference: String,
    repo: Reference,
    records: HashMap<String, Vec<CacheLayer>>,
    warning: Option<String>,
}

impl fmt::Debug for RegistryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCache")
            .field("reference", &self.reference)
            .field("records", &self.records.len())
            .field("warning", &self.warning)
            .finish()
    }
}

impl RegistryCache {
    /// Reads the records at `reference`. A reference that does not exist gives an empty cache
    /// and a [`RegistryCache::warning`]; any other failure is an error.
    pub async fn open(
        registry: impl Into<Arc<RegistryClient>>,
        reference: &str,
    ) -> Result<RegistryCache, RemoteCacheError> {
        let registry = registry.into();
        let repo = parse_ref(reference)?;
        let origin = origin(reference);
        let mut cache = RegistryCache {
            registry,
            reference: reference.to_string(),
            repo: repo.clone(),
            records: HashMap::new(),
            warning: None,
        };
        let top = match cache.registry.pull_manifest(&repo).await {
            Ok(m) => m,
            Err(e @ RegistryError::NotFound { .. }) => {
                cache.warning = Some(format!("failed to import cache {reference}: {e}"));
                return Ok(cache);
            }
            Err(e) => return Err(registry_err(&origin, e)),
        };
        let records = match top.manifest {
            Manifest::Image(m) => match cache.records_of_image(&m.config, &origin).await? {
                Some(r) => r,
                None => {
                    cache.warning = Some(format!(
                        "failed to import cache {reference}: image config media type {:?} is neither a slipway cache nor an image config",
                        m.config.media_type
                    ));
                    Vec::new()
                }
            },
            Manifest::Index(index) => {
                let mut all = Vec::new();
                for entry in &index.manifests {
                    all.extend(cache.records_of_index_entry(entry, &origin).await?);
                }
                all
            }
        };
        if records.is_empty() && cache.warning.is_none() {
            cache.warning = Some(format!(
                "failed to import cache {reference}: it holds no slipway cache records"
            ));
        }
        for r in dedupe_records(&records) {
            cache.records.insert(r.key, r.layers);
        }
        Ok(cache)
    }

    /// Why the cache is empty (BuildKit's "failed to import cache" warning), if it is for a
    /// reason the caller should print rather than fail on.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records of an image manifest's config: the cache document, or an image config's
    /// inline cache. `None`: the config is neither.
    async fn records_of_image(
        &self,
        config: &Descriptor,
        origin: &str,
    ) -> Result<Option<Vec<CacheRecord>>, RemoteCacheError> {
        match config.media_type.as_str() {
            CACHE_CONFIG_MEDIA_TYPE => {
                let bytes = self.small_blob(config, origin).await?;
                CacheConfig::parse(&bytes, origin).map(Some)
            }
            media::OCI_CONFIG | media::DOCKER_CONFIG => {
                let bytes = self.small_blob(config, origin).await?;
                parse_inline_at(&bytes, origin).map(Some)
            }
            BUILDKIT_CACHE_CONFIG_MEDIA_TYPE => Err(buildkit_cache(origin)),
            _ => Ok(None),
        }
    }

    async fn records_of_index_entry(
        &self,
        entry: &Descriptor,
        origin: &str,
    ) -> Result<Vec<CacheRecord>, RemoteCacheError> {
        match entry.media_type.as_str() {
            media::OCI_MANIFEST | media::DOCKER_MANIFEST => {}
            // BuildKit's registry cache (an index whose entry is its cache document).
            BUILDKIT_CACHE_CONFIG_MEDIA_TYPE => return Err(buildkit_cache(origin)),
            _ => return Ok(Vec::new()),
        }
        let child_ref = self.repo.clone_with_digest(entry.digest.clone());
        let child = self
            .registry
            .pull_manifest(&child_ref)
            .await
            .map_err(|e| registry_err(origin, e))?;
        match child.manifest {
            Manifest::Image(m) => Ok(self
                .records_of_image(&m.config, origin)
                .await?
                .unwrap_or_default()),
            Manifest::Index(_) => Err(format_err(
                origin,
                format!("index entry {} is itself an index", entry.digest),
            )),
        }
    }

    /// A config-sized blob read into memory (at most [`MAX_DOCUMENT_BYTES`]), verified.
    async fn small_blob(
        &self,
        desc: &Descriptor,
        origin: &str,
    ) -> Result<Vec<u8>, RemoteCacheError> {
        if desc.size > MAX_DOCUMENT_BYTES {
            return Err(too_large(
                origin,
                &format!("blob {}", desc.digest),
                desc.size,
            ));
        }
        let digest = check_digest(&desc.digest, "config digest", origin)?;
        let mut out = Vec::with_capacity(usize::try_from(desc.size).unwrap_or_default());
        self.registry
            .pull_blob_to_writer(&self.repo, desc, &mut out)
            .await
            .map_err(|e| registry_err(origin, e))?;
        let actual = slipway_oci::Digest::of(&out);
        if actual != digest {
            return Err(format_err(
                origin,
                format!("blob {digest} has digest {actual}"),
            ));
        }
        Ok(out)
    }

    async fn fetch_blob(
        &self,
        layer: &CacheLayer,
        store: &ContentStore,
        tmp: &Path,
    ) -> Result<(), RemoteCacheError> {
        let origin = self.describe();
        let digest = check_digest(&layer.digest, "layer digest", &origin)?;
        if store.exists(&digest) {
            return Ok(());
        }
        tokio::fs::create_dir_all(tmp)
            .await
            .map_err(|source| RemoteCacheError::Io {
                origin: origin.clone(),
                op: "create",
                path: tmp.to_path_buf(),
                source,
            })?;
        let dir = tempfile::Builder::new()
            .prefix("cache-fetch-")
            .tempdir_in(tmp)
            .map_err(|source| RemoteCacheError::Io {
                origin: origin.clone(),
                op: "create temp directory in",
                path: tmp.to_path_buf(),
                source,
            })?;
        let path = dir.path().join(digest.hex());
        let desc = Descriptor::new(&layer.media_type, &layer.digest, layer.size);
        match self
            .registry
            .pull_blob_to_file(&self.repo, &desc, &path)
            .await
        {
            Ok(_) => {}
            Err(e @ RegistryError::NotFound { .. }) => {
                return Err(RemoteCacheError::BlobUnavailable {
                    origin,
                    digest: layer.digest.clone(),
                    reason: e.to_string(),
                })
            }
            Err(e) => return Err(registry_err(&origin, e)),
        }
        ingest_file(store, &path, digest, &origin).await
    }
}

fn buildkit_cache(origin: &str) -> RemoteCacheError {
    format_err(
        origin,
        format!(
            "this is a BuildKit cache ({BUILDKIT_CACHE_CONFIG_MEDIA_TYPE}); slipway reads only its own {CACHE_CONFIG_MEDIA_TYPE} (cache keys differ)"
        ),
    )
}

impl RemoteCache for RegistryCache {
    fn describe(&self) -> String {
        origin(&self.reference)
    }

    fn lookup<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<CacheLayer>>, RemoteCacheError>> {
        Box::pin(async move { Ok(self.records.get(key).cloned()) })
    }

    fn fetch<'a>(
        &'a self,
        layer: &'a CacheLayer,
        store: &'a ContentStore,
        tmp: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteCacheError>> {
        Box::pin(self.fetch_blob(layer, store, tmp))
    }
}
