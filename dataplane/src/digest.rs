//! The digest types the data plane accepts: the content store's and the build graph's.

use crate::error::DataPlaneError;
use slipway_oci::Digest;

/// A sha256 digest the data plane can address a blob by.
pub trait BlobDigest {
    fn to_blob_digest(&self) -> Result<Digest, DataPlaneError>;
}

impl BlobDigest for Digest {
    fn to_blob_digest(&self) -> Result<Digest, DataPlaneError> {
        Ok(*self)
    }
}

impl BlobDigest for slipway_graph::Digest {
    fn to_blob_digest(&self) -> Result<Digest, DataPlaneError> {
        self.as_str()
            .parse()
            .map_err(|source| DataPlaneError::InvalidDigest {
                input: self.to_string(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_and_store_digests_address_the_same_blob() {
        let g = slipway_graph::Digest::of_bytes(b"hello");
        let o = Digest::of(b"hello");
        assert_eq!(g.to_blob_digest().unwrap(), o);
        assert_eq!(o.to_blob_digest().unwrap(), o);
    }
}
