//! A cache in an OCI image layout directory (`--cache-to type=local,dest=D`,
//! `--cache-from type=local,src=D`): `oci-layout`, `index.json` naming the cache manifest
//! (annotation `org.opencontainers.image.ref.name=latest`) and `blobs/sha256/<hex>`. Blobs are
//! written atomically and kept across exports, so exporting again adds only new blobs.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use slipway_oci::registry::{Descriptor, Index, Manifest};
use slipway_oci::{media, ContentStore, Digest, StoreError};

use super::format::{
    cache_manifest, check_digest, distinct_blobs, format_err, too_large, CacheConfig,
    CACHE_CONFIG_MEDIA_TYPE, MAX_DOCUMENT_BYTES,
};
use super::store_copy::ingest_file;
use super::{CacheLayer, CacheRecord, RemoteCache, RemoteCacheError};

/// The `index.json` annotation naming the cache manifest, and its value.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const CACHE_TAG: &str = "latest";
const LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

fn origin(dir: &Path) -> String {
    format!("local cache {}", dir.display())
}

fn io_err(
    origin: &str,
    op: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> RemoteCacheError {
    let origin = origin.to_string();
    let path = path.to_path_buf();
    move |source| RemoteCacheError::Io {
        origin,
        op,
        path,
        source,
    }
}

fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs").join("sha256").join(digest.hex())
}

/// Writes `bytes` to `dest` through a temp file in the same directory (fsynced, renamed).
fn write_atomic(dest: &Path, origin: &str, reader: &mut dyn Read) -> Result<(), RemoteCacheError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(io_err(
        origin,
        "create temp file in",
        parent,
    ))?;
    std::io::copy(reader, &mut tmp).map_err(io_err(origin, "write", dest))?;
    tmp.flush().map_err(io_err(origin, "flush", dest))?;
    tmp.as_file()
        .sync_all()
        .map_err(io_err(origin, "fsync", dest))?;
    tmp.persist(dest)
        .map_err(|e| io_err(origin, "rename into place", dest)(e.error))?;
    Ok(())
}

/// Exports `records` into the OCI layout directory `dest` (created if missing) and returns
/// the cache manifest's digest. Blobs already in `dest` are kept as they are.
pub fn export_to_dir(
    records: &[CacheRecord],
    store: &ContentStore,
    dest: &Path,
    oci_media_types: bool,
) -> Result<Digest, RemoteCacheError> {
    let origin = origin(dest);
    let blobs_dir = dest.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs_dir).map_err(io_err(&origin, "create", &blobs_dir))?;
    let blobs = distinct_blobs(records);
    for layer in &blobs {
        let digest = check_digest(&layer.digest, "layer digest", &origin)?;
        let target = blob_path(dest, &digest);
        if target.is_file() {
            continue;
        }
        let mut reader = match store.open_blob(&digest) {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => {
                return Err(RemoteCacheError::BlobUnavailable {
                    origin,
                    digest: layer.digest.clone(),
                    reason: "not in the worker's content store".into(),
                })
            }
            Err(source) => return Err(RemoteCacheError::Store { origin, source }),
        };
        write_atomic(&target, &origin, &mut reader)?;
    }
    let config = CacheConfig::from_records(records).to_bytes(&origin)?;
    let manifest = cache_manifest(&config, &blobs, oci_media_types, &origin)?;
    for bytes in [&config[..], &manifest.bytes[..]] {
        let target = blob_path(dest, &Digest::of(bytes));
        if !target.is_file() {
            write_atomic(&target, &origin, &mut &bytes[..])?;
        }
    }
    let mut entry = manifest.descriptor();
    entry.annotations = BTreeMap::from([(REF_NAME.to_string(), CACHE_TAG.to_string())]);
    let index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.to_string()),
        manifests: vec![entry],
        annotations: BTreeMap::new(),
    };
    let index_bytes = serde_json::to_vec(&index)
        .map_err(|e| format_err(&origin, format!("cannot serialise index.json: {e}")))?;
    write_atomic(&dest.join("oci-layout"), &origin, &mut &LAYOUT[..])?;
    write_atomic(&dest.join("index.json"), &origin, &mut &index_bytes[..])?;
    check_digest(&manifest.digest(), "manifest digest", &origin)
}

/// A cache read from an OCI layout directory written by [`export_to_dir`].
#[derive(Debug)]
pub struct LocalCache {
    dir: PathBuf,
    records: HashMap<String, Vec<CacheLayer>>,
}

impl LocalCache {
    /// Reads the records of the cache in `src` (which must exist).
    pub fn open(src: &Path) -> Result<LocalCache, RemoteCacheError> {
        let origin = origin(src);
        if !src.is_dir() {
            return Err(RemoteCacheError::Io {
                origin,
                op: "open cache directory",
                path: src.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such directory (was it written by --cache-to type=local,dest=...?)",
                ),
            });
        }
        let index_path = src.join("index.json");
        let index_bytes = read_small(&index_path, &origin)?;
        let index: Index = serde_json::from_slice(&index_bytes)
            .map_err(|e| format_err(&origin, format!("index.json: {e}")))?;
        let entry = pick_entry(&index, &origin)?;
        let manifest_bytes = read_blob(src, &entry.digest, &origin)?;
        let (manifest, _) = Manifest::parse(&manifest_bytes)
            .map_err(|p| format_err(&origin, format!("manifest {}: {p:?}", entry.digest)))?;
        let Manifest::Image(m) = manifest else {
            return Err(format_err(
                &origin,
                format!("{} is an index, not a cache manifest", entry.digest),
            ));
        };
        if m.config.media_type != CACHE_CONFIG_MEDIA_TYPE {
            return Err(format_err(
                &origin,
                format!(
                    "manifest {} has config media type {:?}, not {CACHE_CONFIG_MEDIA_TYPE}",
                    entry.digest, m.config.media_type
                ),
            ));
        }
        let config = read_blob(src, &m.config.digest, &origin)?;
        let records = CacheConfig::parse(&config, &origin)?;
        Ok(LocalCache {
            dir: src.to_path_buf(),
            records: records.into_iter().map(|r| (r.key, r.layers)).collect(),
        })
    }

    /// Every record, sorted by key.
    pub fn records(&self) -> Vec<CacheRecord> {
        let mut out: Vec<CacheRecord> = self
            .records
            .iter()
            .map(|(key, layers)| CacheRecord {
                key: key.clone(),
                layers: layers.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Where the cache keeps blob `digest` (it may be missing).
    pub fn blob_file(&self, digest: &Digest) -> PathBuf {
        blob_path(&self.dir, digest)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    async fn fetch_blob(
        &self,
        layer: &CacheLayer,
        store: &ContentStore,
    ) -> Result<(), RemoteCacheError> {
        let origin = origin(&self.dir);
        let digest = check_digest(&layer.digest, "layer digest", &origin)?;
        if store.exists(&digest) {
            return Ok(());
        }
        let path = blob_path(&self.dir, &digest);
        if !path.is_file() {
            return Err(RemoteCacheError::BlobUnavailable {
                origin,
                digest: layer.digest.clone(),
                reason: format!("{} is missing", path.display()),
            });
        }
        ingest_file(store, &path, digest, &origin).await
    }
}

/// The entry tagged [`CACHE_TAG`], or the only entry.
fn pick_entry<'a>(index: &'a Index, origin: &str) -> Result<&'a Descriptor, RemoteCacheError> {
    let tagged = index
        .manifests
        .iter()
        .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(CACHE_TAG));
    match (tagged, index.manifests.as_slice()) {
        (Some(d), _) | (None, [d]) => Ok(d),
        (None, _) => Err(format_err(
            origin,
            format!(
                "index.json has {} manifests and none is named {REF_NAME}={CACHE_TAG}",
                index.manifests.len()
            ),
        )),
    }
}

/// A whole file of at most [`MAX_DOCUMENT_BYTES`].
fn read_small(path: &Path, origin: &str) -> Result<Vec<u8>, RemoteCacheError> {
    let file = std::fs::File::open(path).map_err(io_err(origin, "open", path))?;
    let mut out = Vec::new();
    file.take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(io_err(origin, "read", path))?;
    if out.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(too_large(
            origin,
            &path.display().to_string(),
            out.len() as u64,
        ));
    }
    Ok(out)
}

/// A small blob of the layout, verified against its digest.
fn read_blob(dir: &Path, digest: &str, origin: &str) -> Result<Vec<u8>, RemoteCacheError> {
    let d = check_digest(digest, "index.json/manifest digest", origin)?;
    let bytes = read_small(&blob_path(dir, &d), origin)?;
    let actual = Digest::of(&bytes);
    if actual != d {
        return Err(format_err(
            origin,
            format!("blob {d} is corrupt: its content has digest {actual}"),
        ));
    }
    Ok(bytes)
}

impl RemoteCache for LocalCache {
    fn describe(&self) -> String {
        origin(&self.dir)
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
        _tmp: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteCacheError>> {
        Box::pin(self.fetch_blob(layer, store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(dir: &Path, blobs: &[&[u8]]) -> (ContentStore, Vec<CacheLayer>) {
        let store = ContentStore::open(dir).unwrap();
        let layers = blobs
            .iter()
            .map(|b| CacheLayer {
                media_type: media::OCI_LAYER_GZIP.into(),
                digest: store.put_bytes(b).unwrap().to_string(),
                size: b.len() as u64,
                diff_id: Digest::of(&[b.len() as u8]).to_string(),
            })
            .collect();
        (store, layers)
    }

    #[test]
    fn missing_directory_names_the_path() {
        let err = LocalCache::open(Path::new("/nonexistent/slipway-cache")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/slipway-cache"),
            "{err}"
        );
    }

    #[test]
    fn index_names_the_manifest_as_latest() {
        let dir = tempfile::tempdir().unwrap();
        let (store, layers) = store_with(&dir.path().join("store"), &[b"one"]);
        let records = vec![CacheRecord {
            key: "d".repeat(64),
            layers,
        }];
        let dest = dir.path().join("cache");
        let digest = export_to_dir(&records, &store, &dest, false).unwrap();
        let index: Index =
            serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
        assert_eq!(index.manifests.len(), 1);
        assert_eq!(index.manifests[0].digest, digest.to_string());
        assert_eq!(index.manifests[0].media_type, media::DOCKER_MANIFEST);
        assert_eq!(index.manifests[0].annotations[REF_NAME], CACHE_TAG);
        assert_eq!(
            std::fs::read(dest.join("oci-layout")).unwrap(),
            LAYOUT.to_vec()
        );
        assert_eq!(LocalCache::open(&dest).unwrap().len(), 1);
    }

    #[test]
    fn corrupt_manifest_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        let (store, layers) = store_with(&dir.path().join("store"), &[b"one"]);
        let records = vec![CacheRecord {
            key: "d".repeat(64),
            layers,
        }];
        let dest = dir.path().join("cache");
        let digest = export_to_dir(&records, &store, &dest, true).unwrap();
        std::fs::write(blob_path(&dest, &digest), b"{}").unwrap();
        let err = LocalCache::open(&dest).unwrap_err();
        assert!(
            matches!(&err, RemoteCacheError::Format { reason, .. } if reason.contains(&digest.to_string())),
            "{err}"
        );
    }
}
