//! Getting a task's build context into its scratch directory.
//!
//! A [`ContextKind::Tar`] context is one blob, unpacked by [`unpack`](super::unpack). A
//! [`ContextKind::Manifest`] context is an index blob naming gzip pages of entries
//! ([`slipway_fsutil::context`]); every file's content is a blob of its own. The client
//! uploads the blobs a worker lacks to the worker's data plane (so they sit in its content
//! store) and the index last. Here the agent:
//!
//! 1. gets the index (local, else from a peer through `FindBlob`, like a tar context);
//! 2. gets the pages, then the file blobs, that are not in the local store from the
//!    workers recorded as holding the index (a holder of an index holds its pages and files:
//!    clients and fetching agents store those first), over one QUIC connection per peer with
//!    several transfers at once; only the index is recorded with the coordinators;
//! 3. validates the manifest (hostile input: see `ContextManifest::new`) and materializes it
//!    with [`materialize`]: directories, files copied out of the content store (a copy, not
//!    a hard link: modes and mtimes are set on the copy and steps may not alter the store),
//!    symlinks stored as they are (never followed: every parent is a directory the manifest
//!    created), then directory modes and mtimes, deepest first.
//!
//! Ownership is not applied (as with tar contexts; COPY decides ownership); xattrs are not
//! carried.

use std::collections::BTreeSet;
use std::fs::{File, FileTimes, OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use slipway_dataplane::BlobClient;
use slipway_farm::{ContextKind, ContextRef, TaskId};
use slipway_fsutil::context::{
    parse_index, parse_page, ContextManifest, ManifestEntry, MAX_INDEX_BYTES, MAX_PAGE_BYTES,
};
use slipway_fsutil::EntryKind;
use slipway_graph::Digest;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::blobs::ContextBlobs;
use super::error::{AgentError, TaskError};
use super::unpack::{unpack_context, UnpackError, UnpackReport};

/// Blob downloads in flight on one peer connection.
const PARALLEL_GETS: usize = 16;

/// Puts the context `context` into the empty directory `dest`.
pub async fn fetch_context(
    blobs: &ContextBlobs,
    task: TaskId,
    context: &ContextRef,
    dest: &Path,
    cancel: &CancellationToken,
) -> Result<UnpackReport, TaskError> {
    if context.kind == ContextKind::Directory {
        return unreachable_directory(task);
    }
    let index = blobs.ensure(task, &context.digest, cancel).await?;
    match context.kind {
        ContextKind::Tar => {
            let dest = dest.to_path_buf();
            blocking(task, move || unpack_context(&index, &dest)).await
        }
        ContextKind::Directory => unreachable_directory(task),
        ContextKind::Manifest => {
            let manifest = read_manifest(blobs, task, &context.digest, index, cancel).await?;
            let files: BTreeSet<Digest> =
                manifest.files().filter_map(|e| e.digest.clone()).collect();
            let files: Vec<Digest> = files.into_iter().collect();
            ensure_local(blobs, task, &context.digest, &files, cancel).await?;
            let store = blobs.store().clone();
            let dest = dest.to_path_buf();
            blocking(task, move || {
                materialize(&manifest, &dest, |d| blob_path(&store, d))
            })
            .await
        }
    }
}

/// A directory context is read in place by the worker of a one-process farm, never fetched.
fn unreachable_directory(task: TaskId) -> Result<UnpackReport, TaskError> {
    Err(TaskError::DirectoryContext {
        task,
        reason: "a directory is read in place, never fetched",
    })
}

/// Reads the index, gets its pages and validates the manifest.
async fn read_manifest(
    blobs: &ContextBlobs,
    task: TaskId,
    index_digest: &Digest,
    index: PathBuf,
    cancel: &CancellationToken,
) -> Result<ContextManifest, TaskError> {
    let bytes = blocking(task, move || read_limited(&index, MAX_INDEX_BYTES)).await?;
    let refs = parse_index(&bytes).map_err(|source| unpack_err(task, source.into()))?;
    let pages: Vec<Digest> = refs.iter().map(|r| r.digest.clone()).collect();
    ensure_local(blobs, task, index_digest, &pages, cancel).await?;
    let store = blobs.store().clone();
    blocking(task, move || {
        let mut entries: Vec<Vec<ManifestEntry>> = Vec::with_capacity(refs.len());
        for r in &refs {
            let path = blob_path(&store, &r.digest)?;
            let bytes = read_limited(&path, MAX_PAGE_BYTES)?;
            entries.push(parse_page(&bytes, r)?);
        }
        Ok(ContextManifest::from_pages(entries)?)
    })
    .await
}

fn unpack_err(task: TaskId, source: UnpackError) -> TaskError {
    TaskError::Unpack {
        task,
        source: Box::new(source),
    }
}

async fn blocking<T: Send + 'static>(
    task: TaskId,
    f: impl FnOnce() -> Result<T, UnpackError> + Send + 'static,
) -> Result<T, TaskError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| unpack_err(task, UnpackError::Task(e.to_string())))?
        .map_err(|source| unpack_err(task, source))
}

fn blob_path(store: &slipway_oci::ContentStore, digest: &Digest) -> Result<PathBuf, UnpackError> {
    let d: slipway_oci::Digest = digest
        .as_str()
        .parse()
        .map_err(|_| UnpackError::BadDigest {
            digest: digest.to_string(),
        })?;
    Ok(store.blob_path(&d))
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, UnpackError> {
    let io = |op| {
        let path = path.to_path_buf();
        move |source| UnpackError::Io { op, path, source }
    };
    let len = std::fs::metadata(path).map_err(io("reading"))?.len();
    if len > limit {
        return Err(UnpackError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    std::fs::read(path).map_err(io("reading"))
}

/// Gets every blob of `digests` that is not in the local store from the workers holding
/// `holder_of`.
async fn ensure_local(
    blobs: &ContextBlobs,
    task: TaskId,
    holder_of: &Digest,
    digests: &[Digest],
    cancel: &CancellationToken,
) -> Result<(), TaskError> {
    let store = blobs.store().clone();
    let mut missing = Vec::new();
    for d in digests {
        let path = blob_path(&store, d).map_err(|e| unpack_err(task, e))?;
        if !path.is_file() {
            missing.push(d.clone());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let agent = |source| TaskError::Agent { task, source };
    let holders = blobs.holders(holder_of, cancel).await.map_err(agent)?;
    let peers = Peers {
        store,
        downloads: blobs.downloads_dir().to_path_buf(),
        security: blobs.security().clone(),
    };
    let mut tried = Vec::new();
    for addr in holders {
        let wanted = missing.len();
        let fetch = peers.fetch_from(task, &addr, &missing);
        let fetched = tokio::select! {
            r = fetch => r,
            _ = cancel.cancelled() => return Err(agent(AgentError::Cancelled)),
        };
        match fetched {
            Ok((still, bytes)) => {
                tracing::info!(%task, peer = %addr, blobs = wanted - still.len(), bytes, "context blobs fetched from a peer");
                if !still.is_empty() {
                    tried.push(format!("{addr}: lacks {} of the blobs", still.len()));
                }
                missing = still;
            }
            Err(e) => {
                tracing::warn!(%task, peer = %addr, error = %e, "fetching context blobs");
                tried.push(format!("{addr}: {e}"));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
    }
    Err(TaskError::ContextNotFound {
        task,
        digest: format!(
            "{} (and {} more blobs of context {holder_of})",
            missing.first().map(|d| d.to_string()).unwrap_or_default(),
            missing.len().saturating_sub(1)
        ),
        tried,
    })
}

/// Where blobs fetched from peers go, and how to reach peers.
struct Peers {
    store: Arc<slipway_oci::ContentStore>,
    /// Downloads are staged here, then renamed into the store.
    downloads: PathBuf,
    security: slipway_tls::Security,
}

impl Peers {
    /// Downloads what `addr` has of `missing` into the store; returns what it lacked and the
    /// bytes received.
    async fn fetch_from(
        &self,
        task: TaskId,
        addr: &str,
        missing: &[Digest],
    ) -> Result<(Vec<Digest>, u64), AgentError> {
        let dataplane_err = |source| AgentError::DataPlane {
            addr: addr.to_string(),
            source: Box::new(source),
        };
        let downloads = self.downloads.clone();
        std::fs::create_dir_all(&downloads).map_err(AgentError::io("creating", &downloads))?;
        let client = Arc::new(
            BlobClient::connect(addr, &self.security)
                .await
                .map_err(dataplane_err)?,
        );
        let wanted: Vec<slipway_dataplane::Digest> = missing
            .iter()
            .filter_map(|d| d.as_str().parse().ok())
            .collect();
        let lacking = client.missing(&wanted).await.map_err(dataplane_err)?;
        let store = self.store.clone();
        let mut queue = wanted.into_iter().filter(|d| !lacking.contains(d));
        let mut gets = JoinSet::new();
        let mut failure = None;
        loop {
            while failure.is_none() && gets.len() < PARALLEL_GETS {
                let Some(d) = queue.next() else { break };
                let client = client.clone();
                // One download file per task: two tasks of a build may fetch the same blob.
                let download = downloads.join(format!("{}.{task}", d.hex()));
                let local = store.blob_path(&d);
                gets.spawn(async move {
                    client
                        .get(&d, &download)
                        .await
                        .map_err(|e| AgentError::DataPlane {
                            addr: client.peer().to_string(),
                            source: Box::new(e),
                        })?;
                    if let Some(parent) = local.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(AgentError::io("creating", parent))?;
                    }
                    std::fs::rename(&download, &local)
                        .map_err(AgentError::io("moving into place", &local))
                });
            }
            let Some(done) = gets.join_next().await else {
                break;
            };
            let outcome = done.unwrap_or_else(|e| {
                Err(AgentError::io("fetching a context blob", Path::new(addr))(
                    std::io::Error::other(e.to_string()),
                ))
            });
            if let Err(e) = outcome {
                failure.get_or_insert(e);
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let bytes = client.stats().bytes_received;
        let still = missing
            .iter()
            .filter(|d| {
                d.as_str()
                    .parse::<slipway_dataplane::Digest>()
                    .map_or(true, |o| lacking.contains(&o))
            })
            .cloned()
            .collect();
        Ok((still, bytes))
    }
}

/// Creates the entries of `manifest` under the existing, empty directory `dest`; file
/// contents come from `blob(digest)`. Blocking.
pub fn materialize(
    manifest: &ContextManifest,
    dest: &Path,
    blob: impl Fn(&Digest) -> Result<PathBuf, UnpackError>,
) -> Result<UnpackReport, UnpackError> {
    let mut report = UnpackReport::default();
    let mut dirs = Vec::new();
    for e in manifest.entries() {
        // A validated manifest lists clean relative paths whose parents are directories it
        // created before: joining cannot leave `dest` or pass through a symlink.
        let path = dest.join(&e.path);
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| UnpackError::Io { op, path, source }
        };
        match e.kind {
            EntryKind::Dir => {
                std::fs::create_dir(&path).map_err(io("creating directory"))?;
                dirs.push(e);
            }
            EntryKind::File => {
                let digest = e.digest.as_ref().ok_or_else(|| UnpackError::Refused {
                    entry: e.path.clone(),
                    reason: "a file without a digest",
                })?;
                let src = blob(digest)?;
                let mut from = File::open(&src).map_err(|source| UnpackError::Io {
                    op: "opening blob",
                    path: src.clone(),
                    source,
                })?;
                let mut to = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(io("creating file"))?;
                let copied = std::io::copy(&mut from, &mut to).map_err(io("writing"))?;
                if copied != e.size {
                    return Err(UnpackError::Refused {
                        entry: e.path.clone(),
                        reason: "its blob's size differs from the manifest's",
                    });
                }
                to.set_permissions(Permissions::from_mode(e.mode))
                    .map_err(io("setting the mode of"))?;
                to.set_times(FileTimes::new().set_modified(mtime(e)))
                    .map_err(io("setting the mtime of"))?;
                report.bytes += copied;
            }
            EntryKind::Symlink => {
                let target = e.link_target.as_deref().unwrap_or_default();
                std::os::unix::fs::symlink(target, &path).map_err(io("creating symlink"))?;
                let t = timespec(e);
                nix::sys::stat::utimensat(
                    nix::fcntl::AT_FDCWD,
                    &path,
                    &t,
                    &t,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )
                .map_err(|errno| io("setting the mtime of")(errno.into()))?;
            }
            _ => {
                return Err(UnpackError::Refused {
                    entry: e.path.clone(),
                    reason: "only files, directories and symlinks may be in a context",
                })
            }
        }
        report.entries += 1;
    }
    // Deepest first, so a read-only directory is finished after its children.
    for e in dirs.iter().rev() {
        let path = dest.join(&e.path);
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| UnpackError::Io { op, path, source }
        };
        std::fs::set_permissions(&path, Permissions::from_mode(e.mode))
            .map_err(io("setting the mode of"))?;
        let dir = File::open(&path).map_err(io("opening directory"))?;
        dir.set_times(FileTimes::new().set_modified(mtime(e)))
            .map_err(io("setting the mtime of"))?;
    }
    Ok(report)
}

fn mtime(e: &ManifestEntry) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(e.mtime_nsec));
    if e.mtime >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(e.mtime.unsigned_abs()) + nanos
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(e.mtime.unsigned_abs()) + nanos
    }
}

fn timespec(e: &ManifestEntry) -> nix::sys::time::TimeSpec {
    nix::sys::time::TimeSpec::new(e.mtime as _, i64::from(e.mtime_nsec) as _)
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
