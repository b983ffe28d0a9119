//! The file-backed cache index (see the module docs of [`crate::cache`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{CacheError, CacheKey};
use crate::snapshot::ChainId;

/// What a cache key produced: the snapshot holding the vertex's output (`None`: an empty
/// filesystem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRecord {
    pub chain: Option<ChainId>,
}

/// A base image as resolved and unpacked: its manifest digest and top snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub manifest_digest: String,
    pub chain: Option<ChainId>,
}

/// A layer blob in the content store for one committed snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerBlob {
    pub media_type: String,
    /// `sha256:<hex>` of the blob as stored (compressed).
    pub digest: String,
    pub size: u64,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
}

/// The index on disk.
#[derive(Debug, Clone)]
pub struct CacheIndex {
    root: PathBuf,
}

impl CacheIndex {
    pub fn open(root: impl Into<PathBuf>) -> Result<CacheIndex, CacheError> {
        let root = root.into();
        for sub in ["keys", "images", "layers"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io("creating", &p))?;
        }
        Ok(CacheIndex { root })
    }

    pub fn result(&self, key: &CacheKey) -> Result<Option<ResultRecord>, CacheError> {
        read(&self.key_path(key))
    }

    pub fn put_result(&self, key: &CacheKey, record: &ResultRecord) -> Result<(), CacheError> {
        write(&self.key_path(key), record)
    }

    /// The record for `reference` on `platform` (both as strings).
    pub fn image(
        &self,
        reference: &str,
        platform: &str,
    ) -> Result<Option<ImageRecord>, CacheError> {
        read(&self.image_path(reference, platform))
    }

    pub fn put_image(
        &self,
        reference: &str,
        platform: &str,
        record: &ImageRecord,
    ) -> Result<(), CacheError> {
        write(&self.image_path(reference, platform), record)
    }

    /// The blob of snapshot `chain` in `variant` (e.g. `source`, `gzip-epoch-none`).
    pub fn layer(&self, chain: &ChainId, variant: &str) -> Result<Option<LayerBlob>, CacheError> {
        read(&self.layer_path(chain, variant))
    }

    pub fn put_layer(
        &self,
        chain: &ChainId,
        variant: &str,
        blob: &LayerBlob,
    ) -> Result<(), CacheError> {
        write(&self.layer_path(chain, variant), blob)
    }

    fn key_path(&self, key: &CacheKey) -> PathBuf {
        self.root.join("keys").join(format!("{key}.json"))
    }

    fn image_path(&self, reference: &str, platform: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(reference.as_bytes());
        h.update(b"|");
        h.update(platform.as_bytes());
        self.root
            .join("images")
            .join(format!("{}.json", hex::encode(h.finalize())))
    }

    fn layer_path(&self, chain: &ChainId, variant: &str) -> PathBuf {
        let safe: String = variant
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.root.join("layers").join(format!(
            "{}-{safe}.json",
            chain.as_str().replacen(':', "-", 1)
        ))
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.to_path_buf();
    move |source| CacheError::Io { op, path, source }
}

fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, CacheError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("reading", path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| CacheError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), CacheError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let bytes = serde_json::to_vec(value).map_err(|e| CacheError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(io("creating a temp file in", dir))?;
    tmp.write_all(&bytes).map_err(io("writing", tmp.path()))?;
    tmp.as_file()
        .sync_all()
        .map_err(io("syncing", tmp.path()))?;
    tmp.persist(path)
        .map_err(|e| io("renaming into", path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::KeyBuilder;

    #[test]
    fn records_round_trip_and_missing_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let idx = CacheIndex::open(tmp.path()).unwrap();
        let key = KeyBuilder::new("t").finish();
        assert_eq!(idx.result(&key).unwrap(), None);
        let chain: ChainId = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let rec = ResultRecord {
            chain: Some(chain.clone()),
        };
        idx.put_result(&key, &rec).unwrap();
        assert_eq!(idx.result(&key).unwrap(), Some(rec));
        let blob = LayerBlob {
            media_type: "m".into(),
            digest: "sha256:x".into(),
            size: 3,
            diff_id: "sha256:y".into(),
        };
        idx.put_layer(&chain, "gzip/none", &blob).unwrap();
        assert_eq!(idx.layer(&chain, "gzip/none").unwrap(), Some(blob));
        assert_eq!(idx.layer(&chain, "zstd").unwrap(), None);
        fs::write(idx.key_path(&key), b"{").unwrap();
        assert!(matches!(idx.result(&key), Err(CacheError::Corrupt { .. })));
    }
}
