//! Deterministic tar output for exports: fixed mtime, mode, root ownership.

use super::{io_err, ExportError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub(crate) struct ArchiveWriter<W: Write> {
    builder: tar::Builder<W>,
    path: PathBuf,
}

impl<W: Write> ArchiveWriter<W> {
    pub fn new(out: W, path: &Path) -> Self {
        ArchiveWriter {
            builder: tar::Builder::new(out),
            path: path.to_path_buf(),
        }
    }

    fn header(name: &str, size: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        // Export names are short and ASCII (blobs/sha256/<64 hex>).
        let _ = h.set_path(name);
        h.set_cksum();
        h
    }

    pub fn dir(&mut self, name: &str) -> Result<(), ExportError> {
        let h = Self::header(name, 0, tar::EntryType::Directory, 0o755);
        self.builder
            .append(&h, std::io::empty())
            .map_err(io_err(&self.path, "write tar"))
    }

    pub fn file<R: Read>(&mut self, name: &str, size: u64, data: R) -> Result<(), ExportError> {
        let h = Self::header(name, size, tar::EntryType::Regular, 0o644);
        let path = self.path.clone();
        self.builder
            .append(&h, data.take(size))
            .map_err(|e| match unwrap_store_error(e) {
                Ok(store) => ExportError::Store(store),
                Err(source) => ExportError::Io {
                    path,
                    op: "write tar",
                    source,
                },
            })
    }

    pub fn bytes(&mut self, name: &str, data: &[u8]) -> Result<(), ExportError> {
        self.file(name, data.len() as u64, data)
    }

    pub fn finish(self) -> Result<W, ExportError> {
        let path = self.path.clone();
        self.builder
            .into_inner()
            .map_err(io_err(&path, "finish tar"))
    }
}

/// A digest mismatch raised by a verifying reader travels inside an io::Error; surface it.
fn unwrap_store_error(e: std::io::Error) -> Result<crate::store::StoreError, std::io::Error> {
    let is_mismatch = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<crate::store::StoreError>())
        .is_some_and(|s| matches!(s, crate::store::StoreError::DigestMismatch { .. }));
    if !is_mismatch {
        return Err(e);
    }
    match e
        .into_inner()
        .map(|i| i.downcast::<crate::store::StoreError>())
    {
        Some(Ok(s)) => Ok(*s),
        _ => Err(std::io::Error::other("digest mismatch")),
    }
}
