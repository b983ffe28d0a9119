//! A reader that verifies content against its digest: at end of file it returns an error
//! (kind `InvalidData`, carrying a [`super::StoreError::DigestMismatch`]) instead of `Ok(0)`
//! when the bytes read do not hash to the expected digest.

use super::StoreError;
use crate::digest::{Digest, Digester};
use std::io::{self, Read};
use std::path::Path;

pub struct VerifiedReader<R> {
    inner: R,
    expected: Digest,
    digester: Option<Digester>,
}

impl<R: Read> VerifiedReader<R> {
    pub fn new(inner: R, expected: Digest) -> Self {
        VerifiedReader {
            inner,
            expected,
            digester: Some(Digester::new()),
        }
    }

    pub fn expected(&self) -> &Digest {
        &self.expected
    }
}

impl<R: Read> Read for VerifiedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(d) = self.digester.as_mut() {
                d.update(buf.get(..n).unwrap_or_default());
            }
            return Ok(n);
        }
        if !buf.is_empty() {
            if let Some(d) = self.digester.take() {
                let (actual, size) = d.finish();
                if actual != self.expected {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        StoreError::DigestMismatch {
                            expected: self.expected,
                            actual,
                            size,
                        },
                    ));
                }
            }
        }
        Ok(0)
    }
}

/// Turns a read error back into a store error (a digest mismatch stays one).
pub(super) fn into_store_error(e: io::Error, path: &Path) -> StoreError {
    let mismatch = e.get_ref().and_then(|i| i.downcast_ref::<StoreError>());
    if let (
        io::ErrorKind::InvalidData,
        Some(StoreError::DigestMismatch {
            expected,
            actual,
            size,
        }),
    ) = (e.kind(), mismatch)
    {
        return StoreError::DigestMismatch {
            expected: *expected,
            actual: *actual,
            size: *size,
        };
    }
    StoreError::Io {
        path: path.to_path_buf(),
        op: "read",
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_errors_at_eof() {
        let mut r = VerifiedReader::new(&b"evil"[..], Digest::of(b"good"));
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("does not match"));
        let mut ok = VerifiedReader::new(&b"good"[..], Digest::of(b"good"));
        out.clear();
        ok.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"good");
    }
}
