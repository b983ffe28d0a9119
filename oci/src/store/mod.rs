//! A content-addressed blob store on disk (`<root>/blobs/sha256/<hex>`), shared by the worker and
//! the exporters. Writes go to a temp file under `<root>/ingest`, are fsynced and renamed into
//! place (then the directory is fsynced), so a blob is either complete and verified or absent.
//! Reads verify the digest: a [`VerifiedReader`] errors at end of file on a mismatch.
//! A small reference index (`<root>/refs.json`, name -> descriptor) records images.
//!
//! The API is synchronous; async callers use `spawn_blocking`.

mod refs;
mod verify;
mod writer;

pub use verify::VerifiedReader;
pub use writer::BlobWriter;

use crate::digest::Digest;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("content store {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    #[error("blob {digest} not found in the content store")]
    NotFound { digest: Digest },
    #[error("content does not match its digest: expected {expected}, got {actual} ({size} bytes)")]
    DigestMismatch {
        expected: Digest,
        actual: Digest,
        size: u64,
    },
    #[error("content size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("reference index {path}: {message}")]
    Refs { path: PathBuf, message: String },
    #[error("invalid reference name {name:?}")]
    RefName { name: String },
}

pub(crate) fn io_err(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { path, op, source }
}

/// The on-disk content store.
#[derive(Debug)]
pub struct ContentStore {
    root: PathBuf,
    refs_lock: Mutex<()>,
}

impl ContentStore {
    /// Opens (creating if needed) a store rooted at `root`. Stale ingest files are removed.
    pub fn open(root: impl Into<PathBuf>) -> Result<ContentStore, StoreError> {
        let root = root.into();
        let blobs = root.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(io_err(&blobs, "create"))?;
        let ingest = root.join("ingest");
        if ingest.exists() {
            std::fs::remove_dir_all(&ingest).map_err(io_err(&ingest, "clean"))?;
        }
        std::fs::create_dir_all(&ingest).map_err(io_err(&ingest, "create"))?;
        Ok(ContentStore {
            root,
            refs_lock: Mutex::new(()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob lives (it may not exist).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    pub fn size(&self, digest: &Digest) -> Result<u64, StoreError> {
        let p = self.blob_path(digest);
        match std::fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound { digest: *digest })
            }
            Err(e) => Err(io_err(&p, "stat")(e)),
        }
    }

    /// A writer for a new blob; call [`BlobWriter::commit`] to make it visible.
    pub fn writer(&self) -> Result<BlobWriter, StoreError> {
        BlobWriter::new(
            self.root.join("ingest"),
            self.root.join("blobs").join("sha256"),
        )
    }

    /// Streams `reader` into the store; with `expected`, a different digest is refused and
    /// leaves nothing behind.
    pub fn ingest<R: Read>(
        &self,
        mut reader: R,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), StoreError> {
        let mut w = self.writer()?;
        let ingest = self.root.join("ingest");
        io::copy(&mut reader, &mut w).map_err(io_err(&ingest, "ingest"))?;
        w.commit(expected)
    }

    /// Stores `bytes` (manifests, configs) and returns their digest.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let d = Digest::of(bytes);
        if self.exists(&d) {
            return Ok(d);
        }
        self.ingest(bytes, Some(&d)).map(|(d, _)| d)
    }

    /// Opens a blob for reading; the reader fails at EOF if the content does not match.
    pub fn open_blob(&self, digest: &Digest) -> Result<VerifiedReader<File>, StoreError> {
        let p = self.blob_path(digest);
        match File::open(&p) {
            Ok(f) => Ok(VerifiedReader::new(f, *digest)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound { digest: *digest })
            }
            Err(e) => Err(io_err(&p, "open")(e)),
        }
    }

    /// Reads a whole (small) blob, verified.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut r = self.open_blob(digest)?;
        let mut out = Vec::new();
        match r.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(e) => Err(verify::into_store_error(e, &self.blob_path(digest))),
        }
    }

    pub fn delete(&self, digest: &Digest) -> Result<(), StoreError> {
        let p = self.blob_path(digest);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound { digest: *digest })
            }
            Err(e) => Err(io_err(&p, "delete")(e)),
        }
    }

    /// Every blob digest in the store, sorted.
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let dir = self.root.join("blobs").join("sha256");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io_err(&dir, "list"))? {
            let e = e.map_err(io_err(&dir, "list"))?;
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_read_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = ContentStore::open(dir.path()).unwrap();
        let d = s.put_bytes(b"hello").unwrap();
        assert!(s.exists(&d));
        assert_eq!(s.size(&d).unwrap(), 5);
        assert_eq!(s.read_blob(&d).unwrap(), b"hello");
        assert_eq!(s.list().unwrap(), vec![d]);
        s.delete(&d).unwrap();
        assert!(matches!(s.read_blob(&d), Err(StoreError::NotFound { .. })));
    }
}
