//! What a farm build writes on the client: file outputs (`-o type=oci|docker|tar|local`)
//! and `--cache-to type=local` caches. Once the build succeeded, the client fetches each
//! task's blobs (manifest, config, layers and, for a cache, the layers its records name)
//! from the data plane of the worker that ran it into a private content store, writes the
//! same root the leader stitches (the index over the platforms' manifests), and runs the
//! exporters the embedded build uses.

use super::client::{status_error, FarmClient};
use anyhow::{Context, Result};
use slipway_cache::export_to_dir;
use slipway_coordinator::export::export_file;
use slipway_coordinator::farm::node::cache_export::merge_records;
use slipway_coordinator::farm::node::stitching::{plan_root, Root};
use slipway_coordinator::FileExport;
use slipway_dataplane::{BlobClient, BlobStoreDir};
use slipway_farm::cache::{select_records, CacheExport, CacheExportTarget};
use slipway_farm::{TaskKind, TaskResult};
use slipway_graph::Platform;
use slipway_oci::ContentStore;
use slipway_proto::convert::task_kind;
use slipway_proto::v1;
use std::collections::{BTreeSet, HashMap};

/// What to write once the build succeeded.
pub struct ClientOutputs {
    pub files: Vec<FileExport>,
    /// `--cache-to type=local` exports.
    pub caches: Vec<CacheExport>,
}

impl ClientOutputs {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.caches.is_empty()
    }
}

/// Writes `outputs` from the results of the succeeded build `build_id`. `local` is the
/// content store of a one-process farm's worker, which holds every blob already: the
/// outputs are written from it, nothing is fetched.
pub async fn write(
    client: &mut FarmClient,
    build_id: &str,
    platforms: &[Platform],
    outputs: ClientOutputs,
    source_date_epoch: Option<i64>,
    local: Option<std::sync::Arc<ContentStore>>,
    progress: tokio::sync::mpsc::Sender<slipway_progress::ProgressEvent>,
) -> Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("slipway-farm-output-")
        .tempdir()
        .context("creating a scratch directory for the outputs")?;
    let with_cache = !outputs.caches.is_empty();
    let (store, fetched) = match local {
        Some(store) => {
            let results = results(client, build_id).await?;
            (store, results)
        }
        None => {
            let store = ContentStore::open(scratch.path().join("store"))
                .context("opening the client's scratch content store")?;
            let fetched = fetch(client, build_id, &store, with_cache).await?;
            (std::sync::Arc::new(store), fetched)
        }
    };
    let records = merge_records(fetched.iter().map(|(_, r)| r));
    let results: Vec<TaskResult> = fetched
        .into_iter()
        .filter(|(kind, _)| *kind == TaskKind::Image)
        .map(|(_, r)| r)
        .collect();
    let root = plan_root(platforms, &results).context("stitching the image")?;
    if let Root::Index { bytes, .. } = &root {
        store
            .put_bytes(bytes)
            .context("writing the index into the scratch store")?;
    }
    let d = root.descriptor();
    let root = oci_spec::image::Descriptor::new(
        oci_spec::image::MediaType::from(d.media_type.as_str()),
        d.size,
        d.digest
            .to_string()
            .parse::<slipway_oci::Digest>()?
            .to_oci(),
    );
    let built: Vec<Platform> = results.iter().map(|r| r.platform.clone()).collect();
    let build_id = build_id.to_string();
    tokio::task::spawn_blocking(move || -> Result<()> {
        for file in &outputs.files {
            let step = ExportStep::start(&progress, &build_id, export_name(file));
            let written = export_file(
                &store,
                &root,
                &built,
                file,
                source_date_epoch,
                scratch.path(),
            );
            step.end(&progress, written.as_ref().err().map(|e| e.to_string()));
            written.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        for cache in &outputs.caches {
            let CacheExportTarget::Local { dest } = &cache.target else {
                continue;
            };
            let images: Vec<Vec<String>> = results
                .iter()
                .map(|r| r.layers.iter().map(|l| l.digest.to_string()).collect())
                .collect();
            let selected = select_records(cache.mode, &records, images.iter().map(Vec::as_slice));
            let written = export_to_dir(&selected, &store, dest, cache.oci_media_types);
            match written {
                Ok(_) => {}
                Err(e) if cache.ignore_error => {
                    eprintln!("WARNING: exporting cache to {}: {e}", dest.display())
                }
                Err(e) => anyhow::bail!("exporting cache to {}: {e}", dest.display()),
            }
        }
        Ok(())
    })
    .await
    .context("the export task failed")?
}

/// What progress calls a file export (BuildKit's names).
fn export_name(f: &FileExport) -> String {
    match f {
        FileExport::Oci { .. } => "exporting to oci image format".into(),
        FileExport::Docker { .. } => "exporting to docker image format".into(),
        FileExport::Local { dest, .. } => {
            format!("exporting to client directory {}", dest.display())
        }
        FileExport::Tar { .. } => "exporting to client tarball".into(),
    }
}

/// A client-side step shown like a vertex (started, then done or failed).
struct ExportStep {
    vertex: slipway_graph::Digest,
    name: String,
    started: std::time::Instant,
}

impl ExportStep {
    /// Sends `Started` (from a blocking thread).
    fn start(
        progress: &tokio::sync::mpsc::Sender<slipway_progress::ProgressEvent>,
        build_id: &str,
        name: String,
    ) -> ExportStep {
        let step = ExportStep {
            vertex: slipway_graph::Digest::of_bytes(format!("{build_id}\0{name}").as_bytes()),
            name,
            started: std::time::Instant::now(),
        };
        step.send(progress, slipway_progress::VertexStatus::Started);
        step
    }

    fn end(
        self,
        progress: &tokio::sync::mpsc::Sender<slipway_progress::ProgressEvent>,
        error: Option<String>,
    ) {
        let status = match error {
            None => slipway_progress::VertexStatus::Done {
                duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            },
            Some(message) => slipway_progress::VertexStatus::Error { message },
        };
        self.send(progress, status);
    }

    fn send(
        &self,
        progress: &tokio::sync::mpsc::Sender<slipway_progress::ProgressEvent>,
        status: slipway_progress::VertexStatus,
    ) {
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        // The renderer may be gone (quiet mode ended early): progress is best effort.
        let _ = progress.blocking_send(slipway_progress::ProgressEvent::Vertex(
            slipway_progress::VertexEvent {
                vertex: self.vertex.clone(),
                name: self.name.clone(),
                platform: Platform::host(),
                worker: None,
                status,
                timestamp_ms,
            },
        ));
    }
}

/// One finished task: its kind, result and the worker that ran it.
struct Finished {
    kind: TaskKind,
    result: TaskResult,
    worker: String,
    name: String,
}

/// The build's finished tasks.
async fn finished(client: &mut FarmClient, build_id: &str) -> Result<Vec<Finished>> {
    let detail = client
        .control()
        .get_build(v1::BuildRef {
            build_id: build_id.to_string(),
        })
        .await
        .map_err(status_error)
        .context("reading the build's results")?
        .into_inner();
    detail
        .tasks
        .into_iter()
        .map(|task| {
            let result: TaskResult = task
                .result
                .with_context(|| format!("task {} has no result", task.name))?
                .try_into()
                .with_context(|| format!("task {}: its result", task.name))?;
            let kind = task_kind(task.kind, ("TaskInfo", "kind"))
                .with_context(|| format!("task {}", task.name))?;
            Ok(Finished {
                kind,
                result,
                worker: task.worker.unwrap_or_default(),
                name: task.name,
            })
        })
        .collect()
}

/// The build's task results with their kinds.
async fn results(client: &mut FarmClient, build_id: &str) -> Result<Vec<(TaskKind, TaskResult)>> {
    Ok(finished(client, build_id)
        .await?
        .into_iter()
        .map(|f| (f.kind, f.result))
        .collect())
}

/// Downloads every image task's image blobs (and every task's cache records' layers when
/// `with_cache`) into `store`; returns the task results with their kinds.
async fn fetch(
    client: &mut FarmClient,
    build_id: &str,
    store: &ContentStore,
    with_cache: bool,
) -> Result<Vec<(TaskKind, TaskResult)>> {
    let tasks = finished(client, build_id).await?;
    let data_addrs: HashMap<String, String> = client
        .list_workers()
        .await?
        .into_iter()
        .filter_map(|w| w.spec)
        .map(|s| (s.id, s.data_addr))
        .collect();
    let dir = BlobStoreDir::open(store.root()).context("opening the scratch blob directory")?;
    let mut results = Vec::new();
    for Finished {
        kind,
        result,
        worker,
        name,
    } in tasks
    {
        let addr = data_addrs.get(&worker).with_context(|| {
            format!(
                "worker {worker:?}, which built {}, is not registered any more: its image cannot be fetched",
                result.platform
            )
        })?;
        let mut wanted = BTreeSet::new();
        if kind == TaskKind::Image {
            wanted.extend(
                [&result.manifest, &result.config]
                    .into_iter()
                    .chain(result.layers.iter())
                    .map(|d| d.digest.clone()),
            );
        }
        if with_cache {
            for r in &result.cache {
                for l in &r.layers {
                    wanted.insert(
                        l.digest
                            .parse()
                            .with_context(|| format!("task {name}: cache layer {:?}", l.digest))?,
                    );
                }
            }
        }
        let blobs = BlobClient::connect(addr.as_str(), &client.security)
            .await
            .with_context(|| format!("connecting to worker {worker}'s data plane at {addr}"))?;
        for digest in &wanted {
            let dest = dir.blob_path(&digest.to_string().parse()?);
            if dest.is_file() {
                continue;
            }
            blobs
                .get(digest, &dest)
                .await
                .with_context(|| format!("fetching {digest} from worker {worker}"))?;
        }
        blobs.close().await;
        results.push((kind, result));
    }
    Ok(results)
}
