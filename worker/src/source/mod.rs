//! Where bytes enter a solve: base images (pulled, unpacked into snapshots keyed by chain
//! ID), local contexts (walked, checksummed, copied into a snapshot layer), HTTP downloads
//! and git checkouts.

pub mod git;
pub mod http;
pub(crate) mod image;
pub(crate) mod local;
pub mod whiteout;

use crate::cache::CacheKey;
use crate::snapshot::ChainId;

/// The snapshot ID a cache key's result is committed under (`sha256:` over the key).
pub(crate) fn chain_for_key(key: &CacheKey) -> Result<ChainId, crate::snapshot::SnapshotError> {
    let hex = crate::cache::KeyBuilder::new("snapshot")
        .part("key", key.as_str())
        .finish();
    format!("sha256:{hex}").parse()
}

/// The snapshot already committed for `key`, reported as cached (never with `no_cache`).
pub(crate) async fn cached(
    ctx: &crate::solver::Ctx,
    digest: &slipway_graph::Digest,
    vertex: &slipway_graph::Vertex,
    key: &CacheKey,
) -> Result<Option<crate::solver::Done>, crate::solver::VertexError> {
    let chain = chain_for_key(key)?;
    if ctx.req.no_cache || !ctx.inner.snapshotter.contains(&chain) {
        return Ok(None);
    }
    ctx.progress
        .vertex(digest, vertex, slipway_progress::VertexStatus::Cached)
        .await;
    Ok(Some(done(chain, key.clone())))
}

/// A source's result: the snapshot `chain`, recorded under `key`.
pub(crate) fn done(chain: ChainId, key: CacheKey) -> crate::solver::Done {
    crate::solver::Done {
        chain: Some(chain),
        key,
        listing: None,
    }
}

/// The OCI chain ID of `diff_id` on `parent`: sha256 of `"<parent> <diff_id>"`.
pub(crate) fn oci_chain_id(
    parent: Option<&ChainId>,
    diff_id: &str,
) -> Result<ChainId, crate::snapshot::SnapshotError> {
    match parent {
        None => diff_id.parse(),
        Some(p) => {
            use sha2::{Digest as _, Sha256};
            let sum = Sha256::digest(format!("{p} {diff_id}").as_bytes());
            format!("sha256:{}", hex::encode(sum)).parse()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let first = oci_chain_id(None, &a).unwrap();
        assert_eq!(first.as_str(), a);
        let second = oci_chain_id(Some(&first), &b).unwrap();
        use sha2::{Digest as _, Sha256};
        let want = hex::encode(Sha256::digest(format!("{a} {b}").as_bytes()));
        assert_eq!(second.as_str(), format!("sha256:{want}"));
    }
}
