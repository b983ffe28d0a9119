use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SnapshotError;

/// A layer chain ID (`sha256:…` over the chain of diff IDs, as in the OCI image spec).
/// Validated on construction so that it can name a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChainId(String);

impl ChainId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file name used for this chain ID in the data dir (`sha256-…`).
    pub(crate) fn file_key(&self) -> String {
        self.0.replacen(':', "-", 1)
    }
}

impl FromStr for ChainId {
    type Err = SnapshotError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SnapshotError::InvalidChainId {
            input: s.to_string(),
        };
        let (algo, hex) = s.split_once(':').ok_or_else(bad)?;
        let algo_ok = !algo.is_empty()
            && algo
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let hex_ok = hex.len() >= 32
            && hex.len() <= 128
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if algo_ok && hex_ok {
            Ok(ChainId(s.to_string()))
        } else {
            Err(bad())
        }
    }
}

impl TryFrom<String> for ChainId {
    type Error = SnapshotError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ChainId> for String {
    fn from(c: ChainId) -> String {
        c.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_sha256_and_refuses_paths() {
        let ok = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            ok.parse::<ChainId>().map(|c| c.file_key()).ok(),
            Some(format!("sha256-{}", "a".repeat(64)))
        );
        for bad in [
            "",
            "sha256",
            "sha256:",
            "../x:abc",
            &format!("sha256:{}", "G".repeat(64)),
            &format!("sha/256:{}", "a".repeat(64)),
        ] {
            assert!(bad.parse::<ChainId>().is_err(), "{bad:?} accepted");
        }
    }
}
