//! File outputs of a farm build (`-o type=oci|docker|tar|local` with `--builder`). Once the
//! build succeeded, the client fetches each platform image's blobs (manifest, config and
//! layers) from the data plane of the worker that built it into a private content store,
//! writes the same root the leader stitches (the index over the platforms' manifests), and
//! runs the exporters the embedded build uses.

use super::client::{status_error, FarmClient};
use anyhow::{Context, Result};
use slipway_coordinator::export::export_file;
use slipway_coordinator::farm::node::stitching::{plan_root, Root};
use slipway_coordinator::FileExport;
use slipway_dataplane::{BlobClient, BlobStoreDir};
use slipway_farm::{BlobDescriptor, TaskResult};
use slipway_graph::Platform;
use slipway_oci::ContentStore;
use slipway_proto::v1;
use std::collections::HashMap;

/// Writes `files` from the results of the succeeded build `build_id`.
pub async fn export_files(
    client: &mut FarmClient,
    build_id: &str,
    platforms: &[Platform],
    files: Vec<FileExport>,
    source_date_epoch: Option<i64>,
) -> Result<()> {
    let detail = client
        .control()
        .get_build(v1::BuildRef {
            build_id: build_id.to_string(),
        })
        .await
        .map_err(status_error)
        .context("reading the build's results")?
        .into_inner();
    let data_addrs: HashMap<String, String> = client
        .list_workers()
        .await?
        .into_iter()
        .filter_map(|w| w.spec)
        .map(|s| (s.id, s.data_addr))
        .collect();
    let scratch = tempfile::Builder::new()
        .prefix("slipway-farm-output-")
        .tempdir()
        .context("creating a scratch directory for the outputs")?;
    let store = ContentStore::open(scratch.path().join("store"))
        .context("opening the client's scratch content store")?;
    let dir = BlobStoreDir::open(store.root()).context("opening the scratch blob directory")?;

    let mut results = Vec::new();
    for task in detail.tasks {
        let result: TaskResult = task
            .result
            .with_context(|| format!("task {} has no result", task.name))?
            .try_into()
            .with_context(|| format!("task {}: its result", task.name))?;
        let worker = task.worker.unwrap_or_default();
        let addr = data_addrs.get(&worker).with_context(|| {
            format!(
                "worker {worker:?}, which built {}, is not registered any more: its image cannot be fetched",
                result.platform
            )
        })?;
        let blobs = BlobClient::connect(addr.as_str(), &client.security)
            .await
            .with_context(|| format!("connecting to worker {worker}'s data plane at {addr}"))?;
        let wanted: Vec<&BlobDescriptor> = [&result.manifest, &result.config]
            .into_iter()
            .chain(result.layers.iter())
            .collect();
        for d in wanted {
            let dest = dir.blob_path(&d.digest.to_string().parse()?);
            if dest.is_file() {
                continue;
            }
            blobs
                .get(&d.digest, &dest)
                .await
                .with_context(|| format!("fetching {} from worker {worker}", d.digest))?;
        }
        blobs.close().await;
        results.push(result);
    }
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
    let platforms: Vec<Platform> = results.iter().map(|r| r.platform.clone()).collect();
    tokio::task::spawn_blocking(move || -> Result<()> {
        for file in &files {
            export_file(
                &store,
                &root,
                &platforms,
                file,
                source_date_epoch,
                scratch.path(),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(())
    })
    .await
    .context("the export task failed")?
}
