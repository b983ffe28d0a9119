//! Scheduling a solve: per needed vertex a key phase (waiting for its inputs' keys) and a
//! result phase that runs only when an output or a dependent that missed the cache needs
//! it (see [`super::lazy`]); execution is bounded by a semaphore; the first failure cancels
//! the rest; outputs are exported at the end, then cache records are collected.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use slipway_fsutil::Listing;
use slipway_graph::{Digest, Graph, Op, Vertex};
use slipway_progress::{ProgressEvent, VertexStatus};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::lazy::{KeyState, Keyed};
use super::progress::Progress;
use super::worker::Inner;
use super::{SolveError, SolveRequest, SolveResult, VertexError};
use crate::cache::CacheKey;
use crate::snapshot::ChainId;

/// A finished vertex: the snapshot of its output and its cache key.
#[derive(Debug)]
pub(crate) struct Done {
    pub chain: Option<ChainId>,
    pub key: CacheKey,
    /// For local sources: the walked context (selector checksums of dependents).
    pub listing: Option<Arc<Listing>>,
}

/// Why a vertex has no result; the error itself is kept in [`Ctx::failure`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failed {
    Failed,
    Cancelled,
}

pub(crate) type Outcome = Result<Arc<Done>, Failed>;
pub(crate) type VertexFuture = Shared<BoxFuture<'static, Outcome>>;

/// What every vertex task shares.
pub(crate) struct Ctx {
    pub inner: Arc<Inner>,
    pub req: SolveRequest,
    pub progress: Progress,
    pub cancel: CancellationToken,
    failure: Mutex<Option<SolveError>>,
    /// Remote caches that failed to answer (each is warned about once).
    remote_warned: Mutex<BTreeSet<usize>>,
}

impl Ctx {
    /// `Ok` when the build asked for `entitlement` and this worker grants it.
    pub(crate) fn entitled(
        &self,
        what: &'static str,
        entitlement: slipway_graph::Entitlement,
    ) -> Result<(), VertexError> {
        if !self.req.allow.contains(&entitlement) {
            return Err(VertexError::NotEntitled { what, entitlement });
        }
        if !self.inner.allowed_entitlements.contains(&entitlement) {
            return Err(VertexError::WorkerRefusesEntitlement { what, entitlement });
        }
        Ok(())
    }

    fn fail(&self, err: SolveError) {
        if let Ok(mut f) = self.failure.lock() {
            if f.is_none() {
                *f = Some(err);
            }
        }
        self.cancel.cancel();
    }

    /// Warns once that remote cache `source` failed; the solve goes on without its answer.
    pub(crate) async fn remote_failed(&self, source: usize, err: &crate::remote::RemoteCacheError) {
        let first = self
            .remote_warned
            .lock()
            .map(|mut w| w.insert(source))
            .unwrap_or(false);
        if first {
            tracing::warn!(error = %err, "cache import failed");
            self.progress
                .warning(None, format!("importing cache: {err}; going on without it"))
                .await;
        }
    }

    /// Reports `err` on the vertex and fails the solve.
    async fn vertex_failed(&self, digest: &Digest, vertex: &Vertex, err: VertexError) -> Failed {
        let cancelled = matches!(err, VertexError::Cancelled)
            || matches!(
                err,
                VertexError::Exec(crate::executor::ExecError::Cancelled { .. })
            ) && self.cancel.is_cancelled();
        if cancelled {
            self.progress
                .vertex(digest, vertex, VertexStatus::Cancelled)
                .await;
            return Failed::Cancelled;
        }
        tracing::debug!(vertex = %digest, error = %err, "vertex failed");
        self.progress
            .vertex(
                digest,
                vertex,
                VertexStatus::Error {
                    message: err.to_string(),
                },
            )
            .await;
        self.fail(SolveError::Vertex {
            vertex: digest.clone(),
            name: super::progress::display_name(digest, vertex),
            source: Box::new(err),
        });
        Failed::Failed
    }
}

pub(crate) type KeyOutcome = Result<Arc<Keyed>, Failed>;
pub(crate) type KeyFuture = Shared<BoxFuture<'static, KeyOutcome>>;

pub(crate) async fn solve(
    inner: Arc<Inner>,
    req: SolveRequest,
    progress: mpsc::Sender<ProgressEvent>,
    outer: CancellationToken,
) -> Result<SolveResult, SolveError> {
    req.graph.validate()?;
    let needed = needed_vertices(&req.graph)?;
    let order: Vec<Digest> = req
        .graph
        .topological_order()?
        .into_iter()
        .filter(|d| needed.contains(d))
        .collect();
    let ctx = Arc::new(Ctx {
        inner,
        req,
        progress: Progress::new(progress),
        cancel: outer.child_token(),
        failure: Mutex::new(None),
        remote_warned: Mutex::new(BTreeSet::new()),
    });
    // Every key phase runs; a result phase runs when an output or a missing dependent
    // needs it.
    let mut keys: HashMap<Digest, KeyFuture> = HashMap::new();
    let mut results: HashMap<Digest, VertexFuture> = HashMap::new();
    let mut tasks = JoinSet::new();
    for digest in &order {
        let Some(vertex) = ctx.req.graph.get(digest) else {
            continue;
        };
        let input_keys: Vec<(Digest, KeyFuture)> = vertex
            .inputs
            .iter()
            .filter_map(|i| keys.get(&i.vertex).map(|f| (i.vertex.clone(), f.clone())))
            .collect();
        let input_results: Vec<(Digest, VertexFuture)> = vertex
            .inputs
            .iter()
            .filter_map(|i| {
                results
                    .get(&i.vertex)
                    .map(|f| (i.vertex.clone(), f.clone()))
            })
            .collect();
        let key = key_task(ctx.clone(), digest.clone(), input_keys)
            .boxed()
            .shared();
        tasks.spawn(key.clone().map(|_| ()));
        let result = result_task(ctx.clone(), digest.clone(), key.clone(), input_results)
            .boxed()
            .shared();
        keys.insert(digest.clone(), key);
        results.insert(digest.clone(), result);
    }
    let root_futures: Vec<Option<VertexFuture>> = ctx
        .req
        .graph
        .outputs
        .iter()
        .map(|o| o.root.as_ref().and_then(|r| results.get(r).cloned()))
        .collect();
    for f in root_futures.iter().flatten() {
        tasks.spawn(f.clone().map(|_| ()));
    }
    let mut roots = Vec::new();
    for f in root_futures {
        roots.push(match f {
            Some(f) => f.await.ok(),
            None => None,
        });
    }
    // Every task finishes (and cleans up) before the solve returns.
    while tasks.join_next().await.is_some() {}
    if let Some(err) = ctx.failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(err);
    }
    if ctx.cancel.is_cancelled() {
        return Err(SolveError::Cancelled);
    }
    report_skipped(&ctx, &order, &keys, &results).await;
    let mut exports = Vec::new();
    for (output, done) in ctx.req.graph.outputs.iter().zip(roots) {
        let chain = match (&output.root, done) {
            (None, _) => None,
            (Some(_), Some(done)) => done.chain.clone(),
            (Some(_), None) => return Err(SolveError::Cancelled),
        };
        let ctx = &ctx;
        // Outputs (platforms) are exported concurrently; each is bounded by a permit.
        exports.push(async move {
            let _permit = ctx.inner.permits.acquire().await;
            if ctx.cancel.is_cancelled() {
                return Err(SolveError::Cancelled);
            }
            super::export::export(ctx, output, chain.as_ref())
                .await
                .map_err(|e| match e {
                    VertexError::Cancelled => SolveError::Cancelled,
                    e => SolveError::Export {
                        platform: output.platform.clone(),
                        target: output.target.clone(),
                        source: Box::new(e),
                    },
                })
        });
    }
    let images = futures_util::future::try_join_all(exports).await?;
    let cache = match ctx.req.cache_export {
        Some(opts) => super::records::collect(&ctx, &order, &keys, &results, &images, opts)
            .await
            .map_err(|e| SolveError::CacheExport {
                source: Box::new(e),
            })?,
        None => Vec::new(),
    };
    Ok(SolveResult { images, cache })
}

/// Vertices whose key missed but whose result nothing needed (a later step was cached):
/// reported as cached, as BuildKit does.
async fn report_skipped(
    ctx: &Ctx,
    order: &[Digest],
    keys: &HashMap<Digest, KeyFuture>,
    results: &HashMap<Digest, VertexFuture>,
) {
    for digest in order {
        let (Some(key), Some(result)) = (keys.get(digest), results.get(digest)) else {
            continue;
        };
        let missed = matches!(key.peek(), Some(Ok(k)) if !k.state.reported());
        if missed && result.peek().is_none() {
            if let Some(vertex) = ctx.req.graph.get(digest) {
                ctx.progress
                    .vertex(digest, vertex, VertexStatus::Cached)
                    .await;
            }
        }
    }
}

/// The roots of the outputs and everything they depend on.
fn needed_vertices(graph: &Graph) -> Result<BTreeSet<Digest>, SolveError> {
    let mut out = BTreeSet::new();
    for root in graph.outputs.iter().filter_map(|o| o.root.as_ref()) {
        out.insert(root.clone());
        out.extend(graph.ancestors(root)?);
    }
    Ok(out)
}

async fn key_task(ctx: Arc<Ctx>, digest: Digest, inputs: Vec<(Digest, KeyFuture)>) -> KeyOutcome {
    let Some(vertex) = ctx.req.graph.get(&digest).cloned() else {
        return Err(Failed::Failed);
    };
    let mut got = HashMap::new();
    for (input, fut) in inputs {
        got.insert(input, fut.await?);
    }
    let mut ordered = Vec::with_capacity(vertex.inputs.len());
    for input in &vertex.inputs {
        match got.get(&input.vertex).cloned() {
            Some(k) => ordered.push(k),
            None => return Err(Failed::Failed),
        }
    }
    // Sources do their work (pulls, context copies) here: bounded like any step.
    let _permit = if matches!(vertex.op, Op::Source(_)) {
        let permit = tokio::select! {
            p = ctx.inner.permits.acquire() => p,
            _ = ctx.cancel.cancelled() => return Err(Failed::Cancelled),
        };
        Some(permit.map_err(|_| Failed::Cancelled)?)
    } else {
        None
    };
    if ctx.cancel.is_cancelled() {
        return Err(Failed::Cancelled);
    }
    match super::lazy::key_phase(&ctx, &digest, &vertex, &ordered).await {
        Ok(k) => Ok(Arc::new(k)),
        Err(e) => Err(ctx.vertex_failed(&digest, &vertex, e).await),
    }
}

async fn result_task(
    ctx: Arc<Ctx>,
    digest: Digest,
    key: KeyFuture,
    inputs: Vec<(Digest, VertexFuture)>,
) -> Outcome {
    let Some(vertex) = ctx.req.graph.get(&digest).cloned() else {
        return Err(Failed::Failed);
    };
    let mut keyed = key.await?;
    if let KeyState::Remote { layers, source } = &keyed.state {
        // A remote hit whose blobs cannot be had is run instead, as a miss.
        match super::import::import(&ctx, &keyed.key, layers, *source).await {
            Ok(chain) => {
                return Ok(Arc::new(Done {
                    chain,
                    key: keyed.key.clone(),
                    listing: keyed.listing.clone(),
                }))
            }
            Err(VertexError::RemoteCache(e)) => {
                ctx.progress
                    .warning(
                        Some(&digest),
                        format!("loading the cached result failed, running the step: {e}"),
                    )
                    .await;
                keyed = Arc::new(Keyed {
                    key: keyed.key.clone(),
                    listing: keyed.listing.clone(),
                    state: KeyState::Miss,
                });
            }
            Err(e) => return Err(ctx.vertex_failed(&digest, &vertex, e).await),
        }
    }
    let mut ordered = Vec::new();
    if matches!(keyed.state, KeyState::Miss) {
        // Inputs are needed only to run: their result phases start now, in parallel.
        let (names, futs): (Vec<Digest>, Vec<VertexFuture>) = inputs.into_iter().unzip();
        let mut got = HashMap::new();
        for (name, outcome) in names
            .into_iter()
            .zip(futures_util::future::join_all(futs).await)
        {
            got.insert(name, outcome?);
        }
        for input in &vertex.inputs {
            match got.get(&input.vertex).cloned() {
                Some(d) => ordered.push(d),
                None => return Err(Failed::Failed),
            }
        }
    }
    let permit = tokio::select! {
        p = ctx.inner.permits.acquire() => p,
        _ = ctx.cancel.cancelled() => return Err(Failed::Cancelled),
    };
    let Ok(_permit) = permit else {
        return Err(Failed::Cancelled);
    };
    if ctx.cancel.is_cancelled() {
        return Err(Failed::Cancelled);
    }
    match super::lazy::result_phase(&ctx, &digest, &vertex, &keyed, &ordered).await {
        Ok(done) => Ok(Arc::new(done)),
        Err(e) => Err(ctx.vertex_failed(&digest, &vertex, e).await),
    }
}
