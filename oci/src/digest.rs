//! Content digests (`sha256:<64 hex>`), verified when parsed, and hashing readers/writers.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

/// A sha256 content digest. Only sha256 is accepted: it is what every registry and BuildKit write.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest {input:?}: expected algorithm:hex")]
    Shape { input: String },
    #[error("invalid digest {input:?}: unsupported algorithm {algorithm:?} (only sha256)")]
    Algorithm { input: String, algorithm: String },
    #[error("invalid digest {input:?}: expected 64 lowercase hex characters")]
    Hex { input: String },
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    pub fn from_bytes(raw: [u8; 32]) -> Digest {
        Digest(raw)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex characters (no `sha256:` prefix).
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// Parses the bare hex part (as found in `blobs/sha256/<hex>` file names).
    pub fn from_hex(hex_part: &str) -> Result<Digest, DigestError> {
        parse_hex(hex_part, hex_part)
    }

    pub fn to_oci(&self) -> oci_spec::image::Digest {
        // Invariant, not input: 64 lowercase hex characters always parse as a sha256 digest.
        #[allow(clippy::expect_used)]
        oci_spec::image::Sha256Digest::from_str(&self.hex())
            .map(Into::into)
            .expect("a sha256 digest of 64 lowercase hex characters is valid")
    }
}

fn parse_hex(input: &str, hex_part: &str) -> Result<Digest, DigestError> {
    let ok = hex_part.len() == 64
        && hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok {
        return Err(DigestError::Hex {
            input: input.to_string(),
        });
    }
    let mut raw = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut raw).map_err(|_| DigestError::Hex {
        input: input.to_string(),
    })?;
    Ok(Digest(raw))
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algorithm, hex_part) = s.split_once(':').ok_or_else(|| DigestError::Shape {
            input: s.to_string(),
        })?;
        if algorithm != "sha256" {
            return Err(DigestError::Algorithm {
                input: s.to_string(),
                algorithm: algorithm.to_string(),
            });
        }
        parse_hex(s, hex_part)
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = DigestError;
    fn try_from(d: &oci_spec::image::Digest) -> Result<Self, Self::Error> {
        d.to_string().parse()
    }
}

impl From<Digest> for oci_spec::image::Digest {
    fn from(d: Digest) -> Self {
        d.to_oci()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental sha256 with a byte count.
#[derive(Clone, Default)]
pub struct Digester {
    hasher: Sha256,
    len: u64,
}

impl Digester {
    pub fn new() -> Digester {
        Digester::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> (Digest, u64) {
        (Digest(self.hasher.finalize().into()), self.len)
    }
}

/// A writer that hashes and counts everything passed through to `inner`.
pub struct HashingWriter<W> {
    inner: W,
    digester: Digester,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            digester: Digester::new(),
        }
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub fn finish(self) -> (W, Digest, u64) {
        let (d, n) = self.digester.finish();
        (self.inner, d, n)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digester.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts everything read from `inner`.
pub struct HashingReader<R> {
    inner: R,
    digester: Digester,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            digester: Digester::new(),
        }
    }

    pub fn finish(self) -> (R, Digest, u64) {
        let (d, n) = self.digester.finish();
        (self.inner, d, n)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d, Digest::of(b""));
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(Digest::try_from(&d.to_oci()).unwrap(), d);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(matches!(
            "abc".parse::<Digest>(),
            Err(DigestError::Shape { .. })
        ));
        assert!(matches!(
            "sha512:00".parse::<Digest>(),
            Err(DigestError::Algorithm { .. })
        ));
        assert!(matches!(
            "sha256:00".parse::<Digest>(),
            Err(DigestError::Hex { .. })
        ));
        let upper = EMPTY.to_uppercase().replace("SHA256", "sha256");
        assert!(matches!(
            upper.parse::<Digest>(),
            Err(DigestError::Hex { .. })
        ));
    }

    #[test]
    fn hashing_writer_counts() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hello").unwrap();
        let (v, d, n) = w.finish();
        assert_eq!((v.as_slice(), n), (&b"hello"[..], 5));
        assert_eq!(d, Digest::of(b"hello"));
    }
}
