//! Cache keys of exec and file vertices, and looking them up.

use std::sync::Arc;

use slipway_fsutil::{checksum, ChecksumOptions};
use slipway_graph::{Digest, FileAction, Op, Vertex};

use super::lazy::Keyed;
use super::{Ctx, Done, VertexError};
use crate::cache::{CacheKey, KeyBuilder};
use crate::snapshot::ChainId;

/// sha256 over the vertex's digest (its op, platform and input vertices), its platform and
/// each input's cache key. A file op reading only some paths of a local context uses the
/// checksum of those paths instead of the whole context's key.
pub(crate) fn vertex_key(digest: &Digest, vertex: &Vertex, inputs: &[Arc<Keyed>]) -> CacheKey {
    let mut k = KeyBuilder::new(vertex.op.kind());
    k.part("vertex", digest.as_str())
        .part("platform", &vertex.platform.to_string());
    for (i, done) in inputs.iter().enumerate() {
        match selected_paths_key(vertex, i, done) {
            Some(sel) => k.part("input-paths", sel.as_str()),
            None => k.part("input", done.key.as_str()),
        };
    }
    k.finish()
}

fn selected_paths_key(vertex: &Vertex, index: usize, done: &Keyed) -> Option<CacheKey> {
    let Op::File(op) = &vertex.op else {
        return None;
    };
    let listing = done.listing.as_ref()?;
    let idx = u32::try_from(index).ok()?;
    if op.base == Some(idx) {
        return None;
    }
    let mut k = KeyBuilder::new("local-paths");
    for action in &op.actions {
        let FileAction::Copy(c) = action else {
            continue;
        };
        if c.src_input != Some(idx) {
            continue;
        }
        let opts = ChecksumOptions {
            follow_links: c.follow_symlinks,
            allow_empty_wildcard: c.allow_empty_wildcard,
        };
        // A path missing from the context makes the copy fail; the whole key is used then.
        let sum = checksum(listing, &[c.src.as_str()], &opts).ok()?;
        k.part("src", &c.src).part("sum", sum.as_str());
    }
    Some(k.finish())
}

/// The finished input `index` of a vertex.
pub(crate) fn input(inputs: &[Arc<Done>], index: u32) -> Result<&Arc<Done>, VertexError> {
    usize::try_from(index)
        .ok()
        .and_then(|i| inputs.get(i))
        .ok_or(VertexError::BadInput { index })
}

/// The snapshot ID for a new result of `key`: derived from the key, unless a snapshot of
/// that ID exists already (a `no_cache` rerun), which then gets a fresh one so the new
/// result replaces the old one in the index.
pub(crate) fn fresh_chain(ctx: &Ctx, key: &CacheKey) -> Result<ChainId, VertexError> {
    let chain = crate::source::chain_for_key(key)?;
    if !ctx.inner.snapshotter.contains(&chain) {
        return Ok(chain);
    }
    let salted = KeyBuilder::new("rerun")
        .part("key", key.as_str())
        .part("nonce", &uuid::Uuid::new_v4().to_string())
        .finish();
    Ok(crate::source::chain_for_key(&salted)?)
}
