//! Running one embedded build: the worker and coordinator in this process, progress
//! rendered on stderr, Ctrl-C cancelling the build, then `--iidfile` / `--metadata-file`.

use super::BuildArgs;
use anyhow::{Context, Result};
use slipway_coordinator::{BuildError, BuildRequest, BuildResult, Coordinator};
use slipway_oci::auth::CredentialStore;
use slipway_oci::registry::RegistryConfig;
use slipway_progress::ProgressMode;
use slipway_worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

pub fn run(args: &BuildArgs, req: BuildRequest, mode: ProgressMode) -> Result<()> {
    let registry = RegistryConfig {
        insecure: args.insecure_registries.clone(),
        ..RegistryConfig::default()
    };
    let worker_config = WorkerConfig {
        data_dir: args.data_dir.join("worker"),
        registry: registry.clone(),
        credentials: CredentialStore::from_env().context("reading registry credentials")?,
        // The embedded worker is the user's own: it grants what the build asks for.
        allowed_entitlements: req.allow.clone(),
        ..WorkerConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let (tx, render) = crate::cmd::render::spawn_renderer(mode);

    let result = runtime.block_on(async move {
        let worker = Worker::open(worker_config).with_context(|| {
            format!(
                "opening the worker's data directory {}",
                args.data_dir.display()
            )
        })?;
        let credentials = CredentialStore::from_env().context("reading registry credentials")?;
        let coordinator = Coordinator::new(worker, registry, credentials);
        let cancel = CancellationToken::new();
        let on_signal = cancel.clone();
        let signal = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.cancel();
            }
        });
        let r = coordinator.build(req, tx, cancel).await;
        signal.abort();
        Ok::<Result<BuildResult, BuildError>, anyhow::Error>(r)
    });
    let _ = render.join();
    // Nothing the build started may outlive it: the runtime's blocking tasks are waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    let result = result??;

    if let Some(path) = &args.iidfile {
        std::fs::write(path, result.image_id())
            .with_context(|| format!("--iidfile {}", path.display()))?;
    }
    if let Some(path) = &args.metadata_file {
        let json =
            serde_json::to_vec_pretty(&result.metadata()).context("serialising the metadata")?;
        std::fs::write(path, json)
            .with_context(|| format!("--metadata-file {}", path.display()))?;
    }
    if args.outputs.is_empty() && !args.push {
        let kept = if args.tags.is_empty() {
            String::new()
        } else {
            format!(" (as {})", args.tags.join(", "))
        };
        eprintln!(
            "WARNING: No output specified: the result stays in the worker's store only{kept}. \
             Use --push or --output to export it."
        );
    }
    Ok(())
}
