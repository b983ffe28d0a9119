//! The directory a blob server serves: `<root>/blobs/sha256/<hex>`, uploads staged in
//! `<root>/ingest/`.

use crate::error::DataPlaneError;
use slipway_oci::Digest;
use std::path::{Path, PathBuf};

/// A content-addressed blob directory (the OCI content store layout).
#[derive(Clone, Debug)]
pub struct BlobStoreDir {
    root: PathBuf,
}

impl BlobStoreDir {
    /// Uses `root`, creating `blobs/sha256` and `ingest` under it when missing.
    pub fn open(root: &Path) -> Result<BlobStoreDir, DataPlaneError> {
        let store = BlobStoreDir {
            root: root.to_path_buf(),
        };
        for dir in [store.blobs_dir(), store.ingest_dir()] {
            std::fs::create_dir_all(&dir).map_err(|source| DataPlaneError::Io {
                path: dir,
                what: "creating the blob directory",
                source,
            })?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    /// A fresh temporary path for an upload of `digest`, on the same filesystem as the blobs.
    pub(crate) fn ingest_path(&self, digest: &Digest) -> PathBuf {
        self.ingest_dir().join(format!(
            "dataplane-{}-{}",
            digest.hex(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }
}
