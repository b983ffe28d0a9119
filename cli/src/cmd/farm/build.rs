//! `slipway build`: the build runs on a farm — the one named by `--builder`, or without it a
//! one-process farm started here ([`LocalFarm`]: the same coordinator and worker code, in
//! this process). For a remote farm the client uploads the context incrementally (a
//! manifest plus the file contents the workers lack, honouring `.dockerignore`; see
//! `context_upload`) to the data plane of up to two workers; the local farm's worker reads
//! the directory in place. The client then submits the build to any coordinator and
//! follows its events, moving to another coordinator when the one it talks to goes away.
//! With `--secret`/`--ssh` it first opens the build's client session (`session`), through
//! which the workers' tasks get the secrets and agents they mount.

use super::client::{is_transient, status_error, FarmClient, FarmOptions};
use super::context_upload::upload_context;
use super::outputs::ClientOutputs;
use crate::cmd::build::build_request::{BuildRequest, NamedContextSource};
use crate::cmd::build::BuildArgs;
use crate::cmd::local_farm::{LocalFarm, LocalFarmConfig};
use anyhow::{Context, Result};
use slipway_coordinator::{plan_exports, ExportPlan};
use slipway_farm::cache::CacheExportTarget;
use slipway_farm::{BuildSpec, BuildState, BuildSummary, NamedContext, PushTarget};
use slipway_progress::{ProgressEvent, ProgressMode};
use slipway_proto::v1;
use std::time::Duration;
use tokio::sync::mpsc;

/// Which farm runs the build.
pub enum FarmTarget {
    /// `--builder`: a farm elsewhere.
    Remote(FarmOptions),
    /// No `--builder`: a one-process farm started for this build.
    Local(LocalFarmConfig),
}

/// Turns the request into a farm build spec, refusing what the farm cannot do yet.
/// Also returns the file outputs, which the client writes from the results (`outputs`).
fn build_spec(req: &BuildRequest, name: String) -> Result<(BuildSpec, ExportPlan)> {
    let plan = plan_exports(&req.outputs, &req.tags, req.platforms.len().max(1))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pushes = plan
        .pushes
        .iter()
        .map(|p| PushTarget {
            repository: p.repository.clone(),
            tags: p.tags.clone(),
            insecure: p.insecure,
        })
        .collect();
    let spec = BuildSpec {
        name,
        dockerfile: req.dockerfile.clone(),
        dockerfile_name: req.dockerfile_name.clone(),
        platforms: req.platforms.clone(),
        build_args: req.build_args.clone(),
        target: (!req.target.is_empty()).then(|| req.target.clone()),
        labels: req.labels.clone(),
        no_cache: req.no_cache,
        pull: req.pull,
        source_date_epoch: req.source_date_epoch,
        context: None,
        pushes,
        client_platform: Some(slipway_graph::Platform::host()),
        context_excludes: req.context_excludes.clone(),
        docker_media_types: plan.media_types == slipway_oci::MediaTypes::Docker,
        cache_from: req.cache_from.clone(),
        cache_to: req.cache_to.clone(),
        network: req.network,
        allow: req.allow.clone(),
        // Directories are added once uploaded (`run`).
        named_contexts: req
            .named_contexts
            .iter()
            .filter_map(|(name, src)| match src {
                NamedContextSource::Image(r) => {
                    Some((name.clone(), NamedContext::Image(r.clone())))
                }
                NamedContextSource::Dir(_) => None,
            })
            .collect(),
    };
    spec.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((spec, plan))
}

pub fn run(
    args: &BuildArgs,
    req: BuildRequest,
    mode: ProgressMode,
    target: FarmTarget,
) -> Result<()> {
    let name = match &req.context {
        Some(d) => std::path::absolute(d)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "context".into()),
        None => "stdin".into(),
    };
    let (mut spec, plan) = build_spec(&req, name)?;
    let outputs = ClientOutputs {
        files: plan.files.clone(),
        caches: spec
            .cache_to
            .iter()
            .filter(|c| matches!(c.target, CacheExportTarget::Local { .. }))
            .cloned()
            .collect(),
    };
    let has_files = !outputs.files.is_empty();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let (tx, render) = crate::cmd::render::spawn_renderer(mode);
    let result = runtime.block_on(async {
        let (local, opts) = match target {
            FarmTarget::Remote(opts) => (None, opts),
            FarmTarget::Local(config) => {
                let farm = LocalFarm::start(config).await?;
                let opts = farm.options.clone();
                (Some(farm), opts)
            }
        };
        let local_store = local.as_ref().map(|farm| farm.store.clone());
        let built = build_on(
            &opts,
            local_store.clone(),
            &req,
            &mut spec,
            outputs,
            tx,
            plain_mode(mode),
        )
        .await;
        // `type=image` names and `-t` without a push name the result in the one-process
        // farm's store (pinned against `slipway prune`), as buildkitd's image store does.
        if let (Ok(b), Some(store)) = (&built, &local_store) {
            name_in_store(store, &plan.store_names, &b.summary)?;
        }
        if let Some(farm) = local {
            if let Err(e) = farm.stop().await {
                tracing::warn!(error = %format!("{e:#}"), "stopping the one-process farm");
            }
        }
        built
    });
    let _ = render.join();
    runtime.shutdown_timeout(Duration::from_secs(5));
    let built = result?;
    finish(args, &spec, &plan, has_files, &built)
}

/// A finished build and, for one platform, its image's config digest.
struct Built {
    summary: BuildSummary,
    config: Option<String>,
}

/// Whether progress is plain text (no terminal).
fn plain_mode(mode: ProgressMode) -> bool {
    mode == ProgressMode::Plain
        || (mode == ProgressMode::Auto && !std::io::IsTerminal::is_terminal(&std::io::stderr()))
}

/// Runs the build on the farm `opts` names: its contexts uploaded (or, on a one-process farm
/// whose worker's store is `local`, named as the directories they are), the session opened,
/// the build submitted and followed, the client's outputs written (from `local` when given).
async fn build_on(
    opts: &FarmOptions,
    local: Option<std::sync::Arc<slipway_oci::ContentStore>>,
    req: &BuildRequest,
    spec: &mut BuildSpec,
    outputs: ClientOutputs,
    tx: mpsc::Sender<ProgressEvent>,
    plain: bool,
) -> Result<Built> {
    {
        let in_place = local.is_some();
        let mut client = FarmClient::connect(opts).await?;
        if let Some(dir) = &req.context {
            spec.context = Some(if in_place {
                in_place_context(dir)?
            } else {
                upload_context(&mut client, dir, &req.context_excludes, plain).await?
            });
        }
        for (name, src) in &req.named_contexts {
            if let NamedContextSource::Dir(dir) = src {
                let context = if in_place {
                    in_place_context(dir)
                } else {
                    upload_context(&mut client, dir, &[], plain).await
                }
                .with_context(|| format!("--build-context {name}={}", dir.display()))?;
                spec.named_contexts
                    .insert(name.clone(), NamedContext::Local(context));
            }
        }
        // One id for every try: a retry after a lost answer names the same build; the
        // session (secrets) is registered under it before the build exists.
        if !in_place {
            super::cache_import::import_local_caches(&mut client, spec).await?;
        }
        let build_id = slipway_farm::BuildId::new().to_string();
        let session = if req.secrets.is_empty() && req.ssh.is_empty() {
            None
        } else {
            let served = super::session::Served {
                secrets: req.secrets.clone(),
                ssh: req.ssh.clone(),
            };
            Some(super::session::open(opts, &build_id, served).await?)
        };
        let followed = async {
            let id = submit(&mut client, spec, &build_id).await?;
            let summary = follow(&mut client, &id, tx.clone(), !in_place).await?;
            if !outputs.is_empty() && matches!(summary.state, BuildState::Succeeded { .. }) {
                let platforms = slipway_coordinator::farm::node::submit::target_platforms(spec);
                super::outputs::write(
                    &mut client,
                    &id,
                    &platforms,
                    outputs,
                    spec.source_date_epoch,
                    local,
                    tx,
                )
                .await
                .context("writing the build's outputs on the client")?;
            }
            let config = if matches!(summary.state, BuildState::Succeeded { .. }) {
                single_config(&mut client, &id).await?
            } else {
                None
            };
            Ok::<_, anyhow::Error>(Built { summary, config })
        }
        .await;
        if let Some(s) = session {
            s.close().await;
        }
        followed
    }
}

/// Names the root of a succeeded build `names` in `store`.
fn name_in_store(
    store: &slipway_oci::ContentStore,
    names: &[String],
    summary: &BuildSummary,
) -> Result<()> {
    let BuildState::Succeeded { index: Some(root) } = &summary.state else {
        return Ok(());
    };
    if names.is_empty() {
        return Ok(());
    }
    let digest: slipway_oci::Digest = root.digest.to_string().parse()?;
    let desc = oci_spec::image::Descriptor::new(
        oci_spec::image::MediaType::from(root.media_type.as_str()),
        root.size,
        digest.to_oci(),
    );
    for name in names {
        store
            .set_ref(name, &desc)
            .with_context(|| format!("naming the result {name} in the worker's store"))?;
    }
    Ok(())
}

/// A context directory the one-process farm's worker reads in place.
fn in_place_context(dir: &std::path::Path) -> Result<slipway_farm::ContextRef> {
    let dir = std::path::absolute(dir).with_context(|| format!("{}", dir.display()))?;
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    Ok(slipway_farm::ContextRef::directory(dir))
}

/// The config digest of a one-platform build's image (`containerimage.config.digest`).
async fn single_config(client: &mut FarmClient, id: &str) -> Result<Option<String>> {
    let detail = client.get_build(id).await?;
    let mut configs = detail
        .tasks
        .iter()
        .filter(|t| t.kind == v1::TaskKind::Image as i32)
        .filter_map(|t| t.result.as_ref()?.config.as_ref().map(|c| c.digest.clone()));
    Ok(match (configs.next(), configs.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    })
}

/// `--iidfile`, `--metadata-file` and the outcome of a finished build.
fn finish(
    args: &BuildArgs,
    spec: &BuildSpec,
    plan: &ExportPlan,
    has_files: bool,
    built: &Built,
) -> Result<()> {
    let summary = &built.summary;
    match &summary.state {
        BuildState::Succeeded { index } => {
            if let Some(path) = &args.iidfile {
                let digest = index
                    .as_ref()
                    .map(|d| d.digest.to_string())
                    .unwrap_or_default();
                std::fs::write(path, digest)
                    .with_context(|| format!("--iidfile {}", path.display()))?;
            }
            if let Some(path) = &args.metadata_file {
                let mut m = serde_json::Map::new();
                m.insert(
                    "buildx.build.ref".into(),
                    format!("slipway/{}", summary.id).into(),
                );
                if let Some(d) = index {
                    m.insert("containerimage.digest".into(), d.digest.to_string().into());
                    m.insert(
                        "containerimage.descriptor".into(),
                        serde_json::json!({"mediaType": d.media_type, "digest": d.digest.to_string(), "size": d.size}),
                    );
                }
                if let Some(config) = &built.config {
                    m.insert("containerimage.config.digest".into(), config.clone().into());
                }
                if !plan.names.is_empty() {
                    m.insert("image.name".into(), plan.names.join(",").into());
                }
                std::fs::write(path, serde_json::to_vec_pretty(&m)?)
                    .with_context(|| format!("--metadata-file {}", path.display()))?;
            }
            if spec.pushes.is_empty() && !has_files {
                eprintln!(
                    "WARNING: No output specified: the result stays in the build cache only. \
                     Use --push or --output to export it."
                );
            }
            Ok(())
        }
        BuildState::Failed { failure } => anyhow::bail!("{}", render_failure(failure)),
        BuildState::Canceled => anyhow::bail!("build {} was canceled", summary.id),
        other => anyhow::bail!("build {} ended in state {}", summary.id, other.name()),
    }
}

/// A build's failure as BuildKit shows it: a failed step with its Dockerfile lines.
fn render_failure(failure: &slipway_farm::Failure) -> String {
    match failure.step() {
        Some(step) => match &step.excerpt {
            Some(excerpt) => format!("{}: {}\n{excerpt}", step.name, step.message),
            None => format!("{}: {}", step.name, step.message),
        },
        None => failure.to_string(),
    }
}

async fn submit(client: &mut FarmClient, spec: &BuildSpec, build_id: &str) -> Result<String> {
    let req = v1::SubmitRequest {
        spec: Some(spec.clone().into()),
        build_id: build_id.to_string(),
    };
    let mut tries = 0;
    loop {
        match client.control().submit(req.clone()).await {
            Ok(r) => return Ok(r.into_inner().build_id),
            Err(s) if is_transient(&s) && tries < client.addrs.len() * 3 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
                client.failover().await?;
            }
            Err(s) => return Err(status_error(s).context("submitting the build")),
        }
    }
}

/// Follows the build's events to its final state, resuming on another coordinator when the
/// stream breaks. Ctrl-C cancels the build.
async fn follow(
    client: &mut FarmClient,
    id: &str,
    progress: mpsc::Sender<ProgressEvent>,
    name_workers: bool,
) -> Result<BuildSummary> {
    let mut interrupted = Box::pin(crate::cmd::signals::interrupted());
    // Give up only after this long without any answer about the build (elections and
    // coordinator restarts take seconds; a loaded machine can stretch them).
    const LOST_AFTER: Duration = Duration::from_secs(120);
    let mut last_contact = std::time::Instant::now();
    loop {
        let stream = client
            .control()
            .watch(v1::WatchRequest {
                build_id: id.to_string(),
            })
            .await;
        let mut stream = match stream {
            Ok(s) => s.into_inner(),
            Err(s) if is_transient(&s) && last_contact.elapsed() < LOST_AFTER => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = client.failover().await;
                continue;
            }
            Err(s) => return Err(status_error(s).context("watching the build")),
        };
        loop {
            let next = tokio::select! {
                m = stream.message() => m,
                _ = &mut interrupted => {
                    let _ = client.cancel(id).await;
                    anyhow::bail!("interrupted: build {id} canceled");
                }
            };
            match next {
                Ok(Some(ev)) => {
                    last_contact = std::time::Instant::now();
                    if let Some(summary) = handle_event(ev, &progress, name_workers).await? {
                        if summary.state.is_final() {
                            return Ok(summary);
                        }
                    }
                }
                Ok(None) => break,
                Err(s) => {
                    tracing::info!(error = %s, "watch stream broke; moving on");
                    break;
                }
            }
        }
        // The stream ended without a final state (coordinator gone): ask again elsewhere.
        if last_contact.elapsed() > LOST_AFTER {
            anyhow::bail!(
                "lost track of build {id}: no coordinator answered for {}s",
                LOST_AFTER.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(d) = client.get_build(id).await {
            last_contact = std::time::Instant::now();
            if let Some(s) = d.summary {
                let s: BuildSummary = s.try_into().map_err(|e| anyhow::anyhow!("{e}"))?;
                if s.state.is_final() {
                    return Ok(s);
                }
            }
        } else {
            let _ = client.failover().await;
        }
    }
}

async fn handle_event(
    ev: v1::BuildEvent,
    progress: &mpsc::Sender<ProgressEvent>,
    name_workers: bool,
) -> Result<Option<BuildSummary>> {
    match ev.event {
        Some(v1::build_event::Event::Progress(p)) => {
            if let Ok(mut e) = serde_json::from_slice::<ProgressEvent>(&p.event_json) {
                if let (ProgressEvent::Vertex(v), true) = (&mut e, name_workers) {
                    // Which worker ran the step, as part of its name.
                    let worker = v.worker.clone().unwrap_or_else(|| p.worker_id.clone());
                    if !worker.is_empty() && !v.name.starts_with(&format!("[{worker}]")) {
                        v.name = format!("[{worker}] {}", v.name);
                    }
                }
                let _ = progress.send(e).await;
            }
            Ok(None)
        }
        Some(v1::build_event::Event::Build(s)) => {
            let s: BuildSummary = s.try_into().map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Some(s))
        }
        Some(v1::build_event::Event::Task(_)) | None => Ok(None),
    }
}
