//! The embedded build service: lowers the Dockerfile (base images resolved from registries),
//! has the worker solve the graph, stitches the platforms' images and runs the exports.

use crate::error::BuildError;
use crate::export::{export_file, push_all};
use crate::graph_edit::{apply_labels, apply_network};
use crate::metadata::{BuildResult, PlatformImage};
use crate::plan::{plan_exports, ExportPlan, FileExport};
use crate::request::{BuildRequest, NamedContextSource};
use crate::resolver::RegistryResolver;
use crate::stitch::{plan_root, write_root};
use slipway_frontend::{lower, LowerOptions, NamedContext};
use slipway_graph::{Digest, Graph, Platform};
use slipway_oci::auth::CredentialStore;
use slipway_oci::registry::{RegistryClient, RegistryConfig};
use slipway_progress::{ProgressEvent, VertexEvent, VertexInputs, VertexStatus};
use slipway_worker::{ExportOptions, LocalSource, SolveError, SolveRequest, Worker};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The local name of the main build context.
pub const MAIN_CONTEXT: &str = "context";

/// A coordinator with one in-process worker.
pub struct Coordinator {
    worker: Worker,
    registry: Arc<RegistryClient>,
    registry_config: RegistryConfig,
}

impl Coordinator {
    pub fn new(
        worker: Worker,
        registry_config: RegistryConfig,
        credentials: CredentialStore,
    ) -> Coordinator {
        let registry = Arc::new(RegistryClient::new(registry_config.clone(), credentials));
        Coordinator {
            worker,
            registry,
            registry_config,
        }
    }

    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Runs one build. Progress events go to `progress`; cancelling `cancel` stops the
    /// solve (running steps are killed) and returns [`BuildError::Canceled`].
    pub async fn build(
        &self,
        req: BuildRequest,
        progress: mpsc::Sender<ProgressEvent>,
        cancel: CancellationToken,
    ) -> Result<BuildResult, BuildError> {
        let build_id = uuid_v7();
        let plan = plan_exports(&req.outputs, &req.tags, req.platforms.len().max(1))?;
        let empty_context;
        let context_dir = match &req.context {
            Some(d) => d.clone(),
            None => {
                empty_context = tempfile::tempdir().map_err(crate::error::io(
                    "creating",
                    std::path::Path::new("a temporary directory"),
                ))?;
                empty_context.path().to_path_buf()
            }
        };

        let graph = tokio::select! {
            g = self.lower(&req, &progress) => g?,
            _ = cancel.cancelled() => return Err(BuildError::Canceled),
        };
        let mut graph = apply_network(graph, req.network)?;
        apply_labels(&mut graph, &req.labels);
        let edges = graph
            .vertices
            .iter()
            .map(|(d, v)| VertexInputs {
                vertex: d.clone(),
                inputs: v.inputs.iter().map(|i| i.vertex.clone()).collect(),
            })
            .collect();
        let _ = progress
            .send(ProgressEvent::Graph { vertices: edges })
            .await;

        let mut locals = BTreeMap::from([(
            MAIN_CONTEXT.to_string(),
            LocalSource {
                dir: context_dir,
                excludes: Vec::new(),
            },
        )]);
        for (name, src) in &req.named_contexts {
            if let NamedContextSource::Dir(dir) = src {
                locals.insert(
                    name.clone(),
                    LocalSource {
                        dir: dir.clone(),
                        excludes: Vec::new(),
                    },
                );
            }
        }
        let locations: std::collections::HashMap<Digest, slipway_graph::SourceLocation> = graph
            .vertices
            .iter()
            .filter_map(|(d, v)| Some((d.clone(), v.location.clone()?)))
            .collect();
        let solve = SolveRequest {
            graph,
            locals,
            secrets: req.secrets.clone(),
            ssh: req.ssh.clone(),
            no_cache: req.no_cache,
            pull: req.pull,
            source_date_epoch: req.source_date_epoch,
            pinned_imports: 0,
            allow: req.allow.clone(),
            export: ExportOptions {
                media_types: plan.media_types,
                ..ExportOptions::default()
            },
            cache_imports: crate::cache_io::imports(&self.registry, &req.cache_from, &progress)
                .await,
            cache_export: crate::cache_io::export_options(&req.cache_to),
        };
        let mut solved = match self
            .worker
            .solve(solve, progress.clone(), cancel.clone())
            .await
        {
            Ok(s) => s,
            Err(SolveError::Vertex {
                vertex,
                name,
                source,
            }) => {
                return Err(BuildError::Step {
                    name,
                    message: source.to_string(),
                    excerpt: locations
                        .get(&vertex)
                        .and_then(|l| crate::excerpt::excerpt(&req.dockerfile, l)),
                })
            }
            Err(e) => return Err(e.into()),
        };
        if cancel.is_cancelled() {
            return Err(BuildError::Canceled);
        }
        if req
            .cache_to
            .iter()
            .any(|e| e.target == slipway_farm::cache::CacheExportTarget::Inline)
        {
            crate::cache_io::embed_inline_records(
                self.worker.store(),
                &mut solved.images,
                &solved.cache,
            )?;
        }
        let images: Vec<PlatformImage> = solved
            .images
            .iter()
            .map(|i| PlatformImage {
                platform: i.platform.clone(),
                manifest: i.manifest.clone(),
                config: i.config.clone(),
            })
            .collect();
        let pairs: Vec<(Platform, oci_spec::image::Descriptor)> = images
            .iter()
            .map(|i| (i.platform.clone(), i.manifest.clone()))
            .collect();
        let store = self.worker.store().clone();
        let root = write_root(&store, &plan_root(&pairs)?, plan.media_types)?;

        for name in &plan.store_names {
            store
                .set_ref(name, &root)
                .map_err(|e| BuildError::Stitch(e.into()))?;
        }
        let platforms: Vec<Platform> = images.iter().map(|i| i.platform.clone()).collect();
        let pushed = tokio::select! {
            r = self.export(&plan, &root, &platforms, &req, &progress, &build_id) => r?,
            _ = cancel.cancelled() => return Err(BuildError::Canceled),
        };
        if !req.cache_to.is_empty() {
            let step = Step::start(&progress, &build_id, "exporting cache").await;
            let r = crate::cache_io::run_exports(
                &req.cache_to,
                &solved.cache,
                &solved.images,
                self.worker.store(),
                &self.registry,
                &progress,
            )
            .await;
            step.end(&progress, r.as_ref().err()).await;
            r?;
        }
        Ok(BuildResult {
            build_ref: format!("slipway/embedded/{build_id}"),
            root,
            images,
            names: plan.names.clone(),
            pushed,
        })
    }

    async fn lower(
        &self,
        req: &BuildRequest,
        progress: &mpsc::Sender<ProgressEvent>,
    ) -> Result<Graph, BuildError> {
        let opts = LowerOptions {
            platforms: req.platforms.clone(),
            build_args: req.build_args.clone(),
            target: req.target.clone(),
            named_contexts: req
                .named_contexts
                .iter()
                .map(|(k, v)| {
                    let c = match v {
                        NamedContextSource::Dir(_) => NamedContext::Local(k.clone()),
                        NamedContextSource::Image(r) => NamedContext::Image(r.clone()),
                    };
                    (k.clone(), c)
                })
                .collect(),
            dockerfile_name: req.dockerfile_name.clone(),
            source_date_epoch: req.source_date_epoch,
            context_excludes: req.context_excludes.clone(),
            ..LowerOptions::default()
        };
        let source = req.dockerfile.clone();
        let resolver =
            RegistryResolver::new(self.registry.clone(), tokio::runtime::Handle::current())
                .with_progress(progress.clone());
        tokio::task::spawn_blocking(move || {
            lower(&source, &opts, &resolver).map_err(|e| BuildError::Dockerfile {
                rendered: e.render(&source).trim_end().to_string(),
            })
        })
        .await
        .map_err(|e| BuildError::Task {
            what: "lowering",
            message: e.to_string(),
        })?
    }

    async fn export(
        &self,
        plan: &ExportPlan,
        root: &oci_spec::image::Descriptor,
        platforms: &[Platform],
        req: &BuildRequest,
        progress: &mpsc::Sender<ProgressEvent>,
        build_id: &str,
    ) -> Result<Vec<String>, BuildError> {
        let scratch = tempfile::Builder::new()
            .prefix("export-")
            .tempdir_in(self.worker.data_dir().join("tmp"))
            .map_err(crate::error::io(
                "creating",
                &self.worker.data_dir().join("tmp"),
            ))?;
        for file in &plan.files {
            let step = Step::start(progress, build_id, &export_name(file)).await;
            let store = self.worker.store().clone();
            let (root, platforms, file2, sde, dir) = (
                root.clone(),
                platforms.to_vec(),
                file.clone(),
                req.source_date_epoch,
                scratch.path().to_path_buf(),
            );
            let r = tokio::task::spawn_blocking(move || {
                export_file(&store, &root, &platforms, &file2, sde, &dir)
            })
            .await
            .map_err(|e| BuildError::Task {
                what: "export",
                message: e.to_string(),
            })
            .and_then(|r| r);
            step.end(progress, r.as_ref().err()).await;
            r?;
        }
        if plan.pushes.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = plan
            .pushes
            .iter()
            .map(|p| format!("{}:{}", p.repository, p.tags.join(",")))
            .collect();
        let step = Step::start(progress, build_id, &format!("pushing {}", names.join(" "))).await;
        let r = push_all(
            &self.registry,
            &self.registry_config,
            self.worker.store(),
            root,
            &plan.pushes,
        )
        .await;
        step.end(progress, r.as_ref().err()).await;
        r
    }
}

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

/// A coordinator-side progress step (exports, pushes), shown like a vertex.
struct Step {
    vertex: Digest,
    name: String,
    started: Instant,
}

impl Step {
    async fn start(progress: &mpsc::Sender<ProgressEvent>, build_id: &str, name: &str) -> Step {
        let step = Step {
            vertex: Digest::of_bytes(format!("{build_id}\0{name}").as_bytes()),
            name: name.to_string(),
            started: Instant::now(),
        };
        step.send(progress, VertexStatus::Started).await;
        step
    }

    async fn end(self, progress: &mpsc::Sender<ProgressEvent>, err: Option<&BuildError>) {
        let status = match err {
            None => VertexStatus::Done {
                duration_ms: self.started.elapsed().as_millis() as u64,
            },
            Some(e) => VertexStatus::Error {
                message: e.to_string(),
            },
        };
        self.send(progress, status).await;
    }

    async fn send(&self, progress: &mpsc::Sender<ProgressEvent>, status: VertexStatus) {
        let _ = progress
            .send(ProgressEvent::Vertex(VertexEvent {
                vertex: self.vertex.clone(),
                name: self.name.clone(),
                platform: Platform::host(),
                worker: None,
                status,
                timestamp_ms: now_ms(),
            }))
            .await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}
