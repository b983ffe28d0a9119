//! Uploading a build context to the farm incrementally: the context becomes a manifest
//! (see [`context_prepare`](super::context_prepare)) whose files are blobs named by their
//! sha256. For each of up to [`CONTEXT_COPIES`] workers the client asks the data plane which
//! blobs it lacks (one round trip per 512 digests), streams only those from disk (several
//! at once over one QUIC connection), then the manifest's pages and, last, its index, which
//! is the blob the build names. Blobs stay in the workers' content stores, so the next build
//! of the same context uploads only what changed.

use super::client::{status_error, FarmClient};
use super::context_prepare::{prepare_context, PreparedContext};
use anyhow::{Context, Result};
use slipway_dataplane::{BlobClient, PutOptions, PutOutcome};
use slipway_farm::{ContextKind, ContextRef};
use slipway_proto::v1;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinSet;

/// Copies of the context uploaded before submitting (so losing one worker loses no context).
pub const CONTEXT_COPIES: usize = 2;
/// File uploads in flight on one connection (small files are bound by the server's fsync per
/// blob: on loopback 32 at once moved 10,000 files of 20 KB about 2x faster than 8).
const PARALLEL_PUTS: usize = 32;

/// What an upload moved, over all copies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadCounts {
    /// Files of the context and their total size.
    pub files: usize,
    pub file_bytes: u64,
    /// File blobs uploaded (over all copies) and bytes put on the wire for them.
    pub uploaded_files: usize,
    pub uploaded_file_bytes: u64,
    /// Manifest blobs (pages and index) uploaded and their bytes.
    pub manifest_blobs: usize,
    pub manifest_bytes: u64,
    /// Workers that hold the context now.
    pub copies: usize,
}

impl UploadCounts {
    /// Every byte uploaded, files and manifest.
    pub fn total_bytes(&self) -> u64 {
        self.uploaded_file_bytes + self.manifest_bytes
    }

    /// The summary line printed under `--progress plain`.
    pub fn line(&self) -> String {
        format!(
            "context: {} files, {} bytes, uploaded {} files / {} bytes (manifest {} blobs / {} \
             bytes included) to {} worker(s)",
            self.files,
            self.file_bytes,
            self.uploaded_files,
            self.total_bytes(),
            self.manifest_blobs,
            self.manifest_bytes,
            self.copies
        )
    }
}

/// Walks, uploads and records the context at `dir`; prints the summary line on stderr when
/// `plain`.
pub async fn upload_context(
    client: &mut FarmClient,
    dir: &std::path::Path,
    excludes: &[String],
    plain: bool,
) -> Result<ContextRef> {
    let (dir2, ex2) = (dir.to_path_buf(), excludes.to_vec());
    let started = std::time::Instant::now();
    let prepared = tokio::task::spawn_blocking(move || prepare_context(&dir2, &ex2))
        .await
        .context("context walk task")??;
    tracing::info!(
        files = prepared.manifest.files().count(),
        hashed = prepared.hashing.hashed,
        from_cache = prepared.hashing.reused,
        ms = started.elapsed().as_millis() as u64,
        "context walked"
    );
    let prepared = Arc::new(prepared);
    let workers = client.list_workers().await?;
    let mut alive: Vec<&v1::WorkerInfo> = workers.iter().filter(|w| w.alive).collect();
    alive.sort_by_key(|w| (w.running_tasks, w.assigned_total));
    if alive.is_empty() {
        anyhow::bail!("the farm has no live worker to receive the build context");
    }
    let mut counts = UploadCounts {
        files: prepared.manifest.files().count(),
        file_bytes: prepared.manifest.file_bytes(),
        ..UploadCounts::default()
    };
    let mut errors = Vec::new();
    for w in alive {
        if counts.copies >= CONTEXT_COPIES {
            break;
        }
        let Some(spec) = &w.spec else { continue };
        match upload_to(client, &spec.data_addr, &prepared, &mut counts).await {
            Ok(()) => {
                let mut wc = client.worker_api().await?;
                wc.record_blob(v1::BlobLocation {
                    digest: prepared.encoded.index.digest.to_string(),
                    worker_id: spec.id.clone(),
                })
                .await
                .map_err(status_error)?;
                counts.copies += 1;
            }
            Err(e) => errors.push(format!("{}: {e:#}", spec.id)),
        }
    }
    if counts.copies == 0 {
        anyhow::bail!("uploading the build context failed: {}", errors.join("; "));
    }
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        digest = %prepared.encoded.index.digest,
        files = counts.files,
        bytes = counts.file_bytes,
        uploaded_files = counts.uploaded_files,
        uploaded_bytes = counts.total_bytes(),
        copies = counts.copies,
        "context uploaded"
    );
    if plain {
        eprintln!("{}", counts.line());
    }
    Ok(ContextRef {
        digest: prepared.encoded.index.digest.clone(),
        size: prepared.encoded.index.bytes.len() as u64,
        kind: ContextKind::Manifest,
        path: None,
    })
}

/// One blob to upload: a file of the context (streamed from disk) or a manifest page.
enum Job {
    File(PathBuf),
    Page(usize),
}

impl Job {
    /// Uploads the blob unannounced; hands the job back with the outcome.
    async fn put(
        self,
        blobs: &BlobClient,
        prepared: &PreparedContext,
        digest: slipway_dataplane::Digest,
    ) -> Result<(Job, PutOutcome)> {
        let quiet = PutOptions { announce: false };
        let outcome = match &self {
            Job::File(path) => blobs
                .put_with(&digest, path, &quiet)
                .await
                .with_context(|| format!("uploading {}", path.display()))?,
            Job::Page(i) => {
                let page = prepared
                    .encoded
                    .pages
                    .get(*i)
                    .context("manifest page out of range")?;
                blobs
                    .put_bytes(&digest, &page.bytes, &quiet)
                    .await
                    .context("uploading a manifest page")?
            }
        };
        Ok((self, outcome))
    }
}

/// Uploads what the data plane at `addr` lacks: files and manifest pages (several at once),
/// then the index.
async fn upload_to(
    client: &FarmClient,
    addr: &str,
    prepared: &Arc<PreparedContext>,
    counts: &mut UploadCounts,
) -> Result<()> {
    let addr: std::net::SocketAddr = addr
        .parse()
        .with_context(|| format!("worker data-plane address {addr:?}"))?;
    let blobs = Arc::new(
        BlobClient::connect(addr, &client.security)
            .await
            .with_context(|| format!("connecting to the data plane at {addr}"))?,
    );
    // Every file content once, and every page.
    let mut jobs: BTreeMap<slipway_dataplane::Digest, Job> = BTreeMap::new();
    for e in prepared.manifest.files() {
        if let Some(d) = &e.digest {
            let d = d.as_str().parse().context("file digest")?;
            jobs.entry(d)
                .or_insert_with(|| Job::File(prepared.root.join(&e.path)));
        }
    }
    for (i, page) in prepared.encoded.pages.iter().enumerate() {
        let d = page.digest.as_str().parse().context("page digest")?;
        jobs.entry(d).or_insert(Job::Page(i));
    }
    let digests: Vec<_> = jobs.keys().copied().collect();
    let mut queue = blobs.missing(&digests).await?.into_iter();
    let mut puts = JoinSet::new();
    loop {
        while puts.len() < PARALLEL_PUTS {
            let Some(d) = queue.next() else { break };
            let Some(job) = jobs.remove(&d) else { continue };
            let (blobs, prepared) = (blobs.clone(), prepared.clone());
            puts.spawn(async move { job.put(&blobs, &prepared, d).await });
        }
        let Some(done) = puts.join_next().await else {
            break;
        };
        match done.context("upload task")?? {
            (Job::File(_), PutOutcome::Stored { bytes }) => {
                counts.uploaded_files += 1;
                counts.uploaded_file_bytes += bytes;
            }
            (Job::Page(_), PutOutcome::Stored { bytes }) => {
                counts.manifest_blobs += 1;
                counts.manifest_bytes += bytes;
            }
            (_, PutOutcome::AlreadyPresent { .. }) => {}
        }
    }
    let index = &prepared.encoded.index;
    // Announced: the worker records the index with the coordinators.
    let put = blobs
        .put_bytes(&index.digest, &index.bytes, &PutOptions::default())
        .await?;
    if let PutOutcome::Stored { bytes } = put {
        counts.manifest_blobs += 1;
        counts.manifest_bytes += bytes;
    }
    if let Ok(b) = Arc::try_unwrap(blobs) {
        b.close().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_manifest_bytes_in_the_total() {
        let c = UploadCounts {
            files: 10,
            file_bytes: 1000,
            uploaded_files: 1,
            uploaded_file_bytes: 100,
            manifest_blobs: 2,
            manifest_bytes: 50,
            copies: 1,
        };
        assert_eq!(
            c.line(),
            "context: 10 files, 1000 bytes, uploaded 1 files / 150 bytes (manifest 2 blobs / 50 \
             bytes included) to 1 worker(s)"
        );
    }
}
