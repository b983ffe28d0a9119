//! Writing one blob: temp file, streaming digest, fsync, rename, fsync of the directory.

use super::{io_err, StoreError};
use crate::digest::{Digest, Digester};
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

/// A blob being written. Dropping it without [`BlobWriter::commit`] removes the temp file.
pub struct BlobWriter {
    file: Option<io::BufWriter<File>>,
    tmp: PathBuf,
    blobs: PathBuf,
    digester: Digester,
}

impl BlobWriter {
    pub(super) fn new(ingest: PathBuf, blobs: PathBuf) -> Result<BlobWriter, StoreError> {
        let named = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&ingest)
            .map_err(io_err(&ingest, "create temp file"))?;
        let (file, tmp) = named
            .keep()
            .map_err(|e| io_err(&ingest, "keep temp file")(e.error))?;
        Ok(BlobWriter {
            file: Some(io::BufWriter::with_capacity(256 * 1024, file)),
            tmp,
            blobs,
            digester: Digester::new(),
        })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.digester.len()
    }

    /// Makes the blob visible under its digest. With `expected`, a mismatch is refused and the
    /// temp file removed. Committing content that already exists is not an error.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64), StoreError> {
        let (digest, size) = std::mem::take(&mut self.digester).finish();
        if let Some(exp) = expected {
            if *exp != digest {
                return Err(StoreError::DigestMismatch {
                    expected: *exp,
                    actual: digest,
                    size,
                });
            }
        }
        let file = self.file.take().ok_or_else(|| StoreError::Io {
            path: self.tmp.clone(),
            op: "commit",
            source: io::Error::other("already committed"),
        })?;
        let file = file
            .into_inner()
            .map_err(|e| io_err(&self.tmp, "flush")(e.into_error()))?;
        file.sync_all().map_err(io_err(&self.tmp, "fsync"))?;
        drop(file);
        let dest = self.blobs.join(digest.hex());
        std::fs::rename(&self.tmp, &dest).map_err(io_err(&dest, "rename into place"))?;
        File::open(&self.blobs)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.blobs, "fsync directory"))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob already committed"))?;
        let n = f.write(buf)?;
        self.digester.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Not committed (or commit failed before the rename): leave nothing behind.
        if self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
