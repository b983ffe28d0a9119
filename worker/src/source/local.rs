//! Local contexts: the request's directory, minus excluded paths, as one snapshot layer,
//! keyed by a content checksum (never mtimes), so an unchanged context is a cache hit.

use std::sync::Arc;
use std::time::Instant;

use slipway_fsutil::{
    apply_file_op, checksum, walk_context, ApplyOptions, ChecksumOptions, PatternMatcher,
    WalkOptions,
};
use slipway_graph::{CopyAction, Digest, FileAction, FileOp, LocalContext, Vertex};
use slipway_progress::VertexStatus;

use crate::cache::KeyBuilder;
use crate::solver::{blocking, Ctx, Done, VertexError};

pub(crate) async fn solve(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    src: &LocalContext,
) -> Result<Done, VertexError> {
    let local = ctx
        .req
        .locals
        .get(&src.name)
        .ok_or_else(|| VertexError::MissingLocal {
            name: src.name.clone(),
        })?;
    let dir = local.dir.clone();
    let mut excludes = src.exclude_patterns.clone();
    excludes.extend(local.excludes.iter().cloned());
    let includes = src.include_patterns.clone();
    let walk_dir = dir.clone();
    let walk_excludes = excludes.clone();
    let previous = ctx
        .inner
        .hash_caches
        .lock()
        .ok()
        .and_then(|c| c.get(&dir).cloned());
    let walked = blocking(move || {
        let matcher = PatternMatcher::new(&walk_excludes)?;
        let walked = walk_context(
            &walk_dir,
            &WalkOptions {
                excludes: Some(&matcher),
                previous: previous.as_deref(),
                ..Default::default()
            },
        )?;
        Ok(walked)
    })
    .await?;
    if let Ok(mut caches) = ctx.inner.hash_caches.lock() {
        caches.insert(dir.clone(), Arc::new(walked.cache));
    }
    let listing = walked.listing;
    let sum = checksum(&listing, &["/"], &ChecksumOptions::default())?;
    let mut key = KeyBuilder::new("local");
    key.part("name", &src.name)
        .part("platform", &vertex.platform.to_string())
        .part("content", sum.as_str());
    for p in &includes {
        key.part("include", p);
    }
    for p in &excludes {
        key.part("exclude", p);
    }
    let key = key.finish();
    let chain = super::chain_for_key(&key)?;
    let listing = Arc::new(listing);
    if ctx.inner.snapshotter.contains(&chain) {
        ctx.progress
            .vertex(digest, vertex, VertexStatus::Cached)
            .await;
        return Ok(Done {
            chain: Some(chain),
            key,
            listing: Some(listing),
        });
    }
    ctx.progress
        .vertex(digest, vertex, VertexStatus::Started)
        .await;
    let started = Instant::now();
    let snapshotter = ctx.inner.snapshotter.clone();
    let target = chain.clone();
    blocking(move || {
        let prepared = snapshotter.prepare_layer_dir(&target, None)?;
        let mut copy = CopyAction::new(Some(0), "/", "/");
        copy.dir_contents_only = true;
        copy.create_dest_path = true;
        copy.include_patterns = includes;
        copy.exclude_patterns = excludes;
        let op = FileOp {
            base: None,
            actions: vec![FileAction::Copy(copy)],
        };
        apply_file_op(&op, prepared.path(), &[&dir], &ApplyOptions::default())?;
        snapshotter.commit(prepared)?;
        Ok(())
    })
    .await?;
    ctx.progress
        .vertex(
            digest,
            vertex,
            VertexStatus::Done {
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            },
        )
        .await;
    Ok(Done {
        chain: Some(chain),
        key,
        listing: Some(listing),
    })
}
