//! Cache keys: sha256 over a vertex's definition, its platform and its inputs' cache keys
//! (plus, for sources, what the source resolved to: a manifest digest or a content checksum).

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A vertex's cache key (64 lower-case hex digits of a sha256).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Builds a [`CacheKey`] from labelled, length-prefixed parts (so that no two different
/// sequences of parts hash alike).
pub struct KeyBuilder(Sha256);

const VERSION: &str = "slipway.cache.v1";

impl KeyBuilder {
    pub fn new(kind: &str) -> KeyBuilder {
        let mut b = KeyBuilder(Sha256::new());
        b.part("version", VERSION);
        b.part("kind", kind);
        b
    }

    pub fn part(&mut self, label: &str, value: &str) -> &mut KeyBuilder {
        for s in [label, value] {
            self.0.update((s.len() as u64).to_le_bytes());
            self.0.update(s.as_bytes());
        }
        self
    }

    pub fn finish(&self) -> CacheKey {
        CacheKey(hex::encode(self.0.clone().finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_unambiguous_and_stable() {
        let a = KeyBuilder::new("exec").part("a", "bc").finish();
        let b = KeyBuilder::new("exec").part("ab", "c").finish();
        assert_ne!(a, b);
        assert_eq!(a, KeyBuilder::new("exec").part("a", "bc").finish());
        assert_ne!(a, KeyBuilder::new("file").part("a", "bc").finish());
        assert_eq!(a.as_str().len(), 64);
    }
}
