//! Scheduling a solve: one task per needed vertex, waiting for its inputs, bounded by a
//! semaphore; the first failure cancels the rest; outputs are exported at the end.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use slipway_fsutil::Listing;
use slipway_graph::{Digest, Graph, Op, SourceOp, Vertex};
use slipway_progress::{ProgressEvent, VertexStatus};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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
enum Failed {
    Failed,
    Cancelled,
}

type Outcome = Result<Arc<Done>, Failed>;
type VertexFuture = Shared<BoxFuture<'static, Outcome>>;

/// What every vertex task shares.
pub(crate) struct Ctx {
    pub inner: Arc<Inner>,
    pub req: SolveRequest,
    pub progress: Progress,
    pub cancel: CancellationToken,
    failure: Mutex<Option<SolveError>>,
}

impl Ctx {
    fn fail(&self, err: SolveError) {
        if let Ok(mut f) = self.failure.lock() {
            if f.is_none() {
                *f = Some(err);
            }
        }
        self.cancel.cancel();
    }
}

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
    });
    let mut futures: HashMap<Digest, VertexFuture> = HashMap::new();
    let mut tasks = JoinSet::new();
    for digest in &order {
        let Some(vertex) = ctx.req.graph.get(digest) else {
            continue;
        };
        let inputs: Vec<(Digest, VertexFuture)> = vertex
            .inputs
            .iter()
            .filter_map(|i| {
                futures
                    .get(&i.vertex)
                    .map(|f| (i.vertex.clone(), f.clone()))
            })
            .collect();
        let fut = vertex_task(ctx.clone(), digest.clone(), inputs)
            .boxed()
            .shared();
        tasks.spawn(fut.clone());
        futures.insert(digest.clone(), fut);
    }
    let mut roots = Vec::new();
    for output in &ctx.req.graph.outputs {
        let done = match &output.root {
            Some(root) => match futures.get(root) {
                Some(f) => f.clone().await.ok(),
                None => None,
            },
            None => None,
        };
        roots.push(done);
    }
    // Every task finishes (and cleans up) before the solve returns.
    while tasks.join_next().await.is_some() {}
    if let Some(err) = ctx.failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(err);
    }
    if ctx.cancel.is_cancelled() {
        return Err(SolveError::Cancelled);
    }
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
    Ok(SolveResult {
        images,
        cache: Vec::new(),
    })
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

async fn vertex_task(
    ctx: Arc<Ctx>,
    digest: Digest,
    inputs: Vec<(Digest, VertexFuture)>,
) -> Outcome {
    let Some(vertex) = ctx.req.graph.get(&digest).cloned() else {
        return Err(Failed::Failed);
    };
    let mut done_inputs = HashMap::new();
    for (input, fut) in inputs {
        match fut.await {
            Ok(d) => {
                done_inputs.insert(input, d);
            }
            Err(f) => return Err(f),
        }
    }
    // Inputs again in the vertex's order (a vertex may use one input twice).
    let mut ordered = Vec::with_capacity(vertex.inputs.len());
    for input in &vertex.inputs {
        match done_inputs.get(&input.vertex).cloned() {
            Some(d) => ordered.push(d),
            None => return Err(Failed::Failed),
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
    let started = Instant::now();
    match run_vertex(&ctx, &digest, &vertex, &ordered).await {
        Ok(done) => Ok(Arc::new(done)),
        Err(VertexError::Cancelled) => {
            ctx.progress
                .vertex(&digest, &vertex, VertexStatus::Cancelled)
                .await;
            Err(Failed::Cancelled)
        }
        Err(VertexError::Exec(crate::executor::ExecError::Cancelled { .. }))
            if ctx.cancel.is_cancelled() =>
        {
            ctx.progress
                .vertex(&digest, &vertex, VertexStatus::Cancelled)
                .await;
            Err(Failed::Cancelled)
        }
        Err(e) => {
            tracing::debug!(vertex = %digest, elapsed = ?started.elapsed(), error = %e, "vertex failed");
            ctx.progress
                .vertex(
                    &digest,
                    &vertex,
                    VertexStatus::Error {
                        message: e.to_string(),
                    },
                )
                .await;
            ctx.fail(SolveError::Vertex {
                vertex: digest.clone(),
                name: super::progress::display_name(&digest, &vertex),
                source: Box::new(e),
            });
            Err(Failed::Failed)
        }
    }
}

async fn run_vertex(
    ctx: &Ctx,
    digest: &Digest,
    vertex: &Vertex,
    inputs: &[Arc<Done>],
) -> Result<Done, VertexError> {
    match &vertex.op {
        Op::Source(SourceOp::Image(src)) => {
            crate::source::image::solve(ctx, digest, vertex, src).await
        }
        Op::Source(SourceOp::Local(src)) => {
            crate::source::local::solve(ctx, digest, vertex, src).await
        }
        Op::Source(SourceOp::Http(src)) => {
            crate::source::http::solve(ctx, digest, vertex, src).await
        }
        Op::Exec(op) => super::exec::solve(ctx, digest, vertex, op, inputs).await,
        Op::File(op) => super::file::solve(ctx, digest, vertex, op, inputs).await,
        Op::Merge(_) => super::merge::solve(ctx, digest, vertex, inputs).await,
    }
}
