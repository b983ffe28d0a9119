//! The two phases of a vertex. The key phase computes its cache key (from its inputs' keys
//! only) and looks it up: in this worker's index, then in the request's remote caches. The
//! result phase makes its filesystem exist here, and runs only when something needs it: an
//! output being exported or a dependent that missed the cache. So a cached final stage
//! neither runs nor pulls the stages and base images below it.

use std::sync::Arc;

use slipway_farm::cache::CacheLayer;
use slipway_fsutil::Listing;
use slipway_graph::{Digest, Entitlement, Op, SourceOp, Vertex};
use slipway_progress::VertexStatus;

use super::key::vertex_key;
use super::{Ctx, Done, VertexError};
use crate::cache::{CacheKey, ResultRecord};
use crate::snapshot::ChainId;

/// A vertex after its key phase.
#[derive(Debug)]
pub(crate) struct Keyed {
    pub key: CacheKey,
    /// For local sources: the walked context (selector checksums of dependents).
    pub listing: Option<Arc<Listing>>,
    pub state: KeyState,
}

/// What the key phase found.
#[derive(Debug, Clone)]
pub(crate) enum KeyState {
    /// The result is here already (a local cache hit, or a source that was loaded).
    Ready(Option<ChainId>),
    /// Remote cache `source` (an index into the request's imports) has the result's layers.
    Remote {
        layers: Vec<CacheLayer>,
        source: usize,
    },
    /// Nothing has it: the vertex runs if its result is needed.
    Miss,
}

impl KeyState {
    /// Whether the key phase reported the vertex (cached or loaded).
    pub fn reported(&self) -> bool {
        !matches!(self, KeyState::Miss)
    }
}

/// The key phase of a vertex whose inputs' key phases are done.
pub(crate) async fn key_phase(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    inputs: &[Arc<Keyed>],
) -> Result<Keyed, VertexError> {
    let done = match &vertex.op {
        Op::Source(SourceOp::Image(src)) => {
            if let Some(key) = crate::source::image::lazy_key(ctx, digest, src)? {
                return Ok(Keyed {
                    key,
                    listing: None,
                    state: KeyState::Miss,
                });
            }
            crate::source::image::solve(ctx, digest, vertex, src).await?
        }
        Op::Source(SourceOp::Local(src)) => {
            crate::source::local::solve(ctx, digest, vertex, src).await?
        }
        Op::Source(SourceOp::Http(src)) => {
            crate::source::http::solve(ctx, digest, vertex, src).await?
        }
        Op::Source(SourceOp::Git(src)) => {
            crate::source::git::solve(ctx, digest, vertex, src).await?
        }
        Op::Exec(op) => {
            if op.security == slipway_graph::SecurityMode::Insecure {
                ctx.entitled("RUN --security=insecure", Entitlement::SecurityInsecure)?;
            }
            return computed_key(ctx, digest, vertex, inputs).await;
        }
        Op::File(_) | Op::Merge(_) => return computed_key(ctx, digest, vertex, inputs).await,
    };
    Ok(Keyed {
        key: done.key,
        listing: done.listing,
        state: KeyState::Ready(done.chain),
    })
}

async fn computed_key(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    inputs: &[Arc<Keyed>],
) -> Result<Keyed, VertexError> {
    let key = vertex_key(digest, vertex, inputs);
    let state = lookup(ctx, &key).await?;
    if state.reported() {
        ctx.progress
            .vertex(digest, vertex, VertexStatus::Cached)
            .await;
    }
    Ok(Keyed {
        key,
        listing: None,
        state,
    })
}

/// `key` in this worker's index (its snapshot present), else in the remote caches in
/// order. A remote cache that fails to answer is reported once as a warning and skipped.
/// With `no_cache` only the pinned imports (this build's own results) are asked.
async fn lookup(ctx: &Ctx, key: &CacheKey) -> Result<KeyState, VertexError> {
    let asked = if ctx.req.no_cache {
        ctx.req.pinned_imports.min(ctx.req.cache_imports.len())
    } else {
        match ctx.inner.cache.result(key)? {
            Some(ResultRecord { chain: None }) => return Ok(KeyState::Ready(None)),
            Some(ResultRecord { chain: Some(c) }) if ctx.inner.snapshotter.contains(&c) => {
                return Ok(KeyState::Ready(Some(c)))
            }
            _ => {}
        }
        ctx.req.cache_imports.len()
    };
    for (source, remote) in ctx.req.cache_imports[..asked].iter().enumerate() {
        match remote.lookup(key.as_str()).await {
            Ok(Some(layers)) => return Ok(KeyState::Remote { layers, source }),
            Ok(None) => {}
            Err(e) => ctx.remote_failed(source, &e).await,
        }
    }
    Ok(KeyState::Miss)
}

/// The result phase: `inputs` are the finished inputs (empty unless the key phase missed).
pub(crate) async fn result_phase(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    keyed: &Keyed,
    inputs: &[Arc<Done>],
) -> Result<Done, VertexError> {
    let chain = match &keyed.state {
        KeyState::Ready(chain) => chain.clone(),
        KeyState::Remote { layers, source } => {
            super::import::import(ctx, &keyed.key, layers, *source).await?
        }
        KeyState::Miss => run(ctx, digest, vertex, keyed, inputs).await?,
    };
    Ok(Done {
        chain,
        key: keyed.key.clone(),
        listing: keyed.listing.clone(),
    })
}

/// Runs a vertex that missed the cache and records its result under its key.
async fn run(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    keyed: &Keyed,
    inputs: &[Arc<Done>],
) -> Result<Option<ChainId>, VertexError> {
    if let Op::Source(SourceOp::Image(src)) = &vertex.op {
        // A lazily resolved base image: pulled now (the source reports its own progress).
        return Ok(crate::source::image::solve(ctx, digest, vertex, src)
            .await?
            .chain);
    }
    if let Op::Exec(_) = &vertex.op {
        ctx.inner.platforms.support(&vertex.platform)?;
    }
    ctx.progress
        .vertex(digest, vertex, VertexStatus::Started)
        .await;
    let started = std::time::Instant::now();
    let key = keyed.key.clone();
    let chain = match &vertex.op {
        Op::Exec(op) => super::exec::run(ctx, digest, op, inputs, key.clone()).await?,
        Op::File(op) => super::file::run(ctx, op, inputs, key.clone()).await?,
        Op::Merge(_) => super::merge::run(ctx, inputs, key.clone()).await?,
        // Other sources are loaded in their key phase.
        Op::Source(_) => {
            return Err(VertexError::NoResult {
                kind: vertex.op.kind(),
            })
        }
    };
    ctx.inner.cache.put_result(
        &key,
        &ResultRecord {
            chain: chain.clone(),
        },
    )?;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    ctx.progress
        .vertex(digest, vertex, VertexStatus::Done { duration_ms })
        .await;
    Ok(chain)
}
