//! The worker value: its stores, executor and platforms.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{Flock, FlockArg};

use slipway_oci::registry::RegistryClient;
use slipway_oci::ContentStore;
use slipway_progress::ProgressEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{SolveError, SolveRequest, SolveResult, WorkerConfig, WorkerError};
use crate::cache::CacheIndex;
use crate::emulation::{self, WorkerPlatforms};
use crate::executor::{Executor, Runc};
use crate::mounts::CacheMounts;
use crate::snapshot::{Snapshotter, SnapshotterConfig};

/// A build worker on this machine. Cheap to clone; one per data dir (the snapshotter
/// locks it).
#[derive(Clone)]
pub struct Worker {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Held while the worker lives: one worker per data dir, since opening one removes
    /// the containers, mounts and bundles it finds there.
    _lock: Flock<std::fs::File>,
    pub data_dir: PathBuf,
    pub snapshotter: Snapshotter,
    pub store: Arc<ContentStore>,
    pub cache: CacheIndex,
    pub cache_mounts: CacheMounts,
    pub executor: Arc<dyn Executor>,
    pub platforms: WorkerPlatforms,
    pub registry: RegistryClient,
    pub parallelism: usize,
    /// Vertices executing at once, across all solves of this worker.
    pub permits: Arc<tokio::sync::Semaphore>,
    /// File digests of the last walk of each local context dir (reused when the stat
    /// matches, so an unchanged context is not read again).
    pub hash_caches:
        std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<slipway_fsutil::HashCache>>>,
    /// Held while a remote cache hit is unpacked (hits share base layers).
    pub imports: tokio::sync::Mutex<()>,
    /// What this worker grants builds that ask (`WorkerConfig::allowed_entitlements`).
    pub allowed_entitlements: std::collections::BTreeSet<slipway_graph::Entitlement>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("data_dir", &self.inner.data_dir)
            .field("platforms", &self.inner.platforms)
            .field("parallelism", &self.inner.parallelism)
            .finish()
    }
}

impl Worker {
    /// Opens the worker's data dir (`snapshots/`, `content/`, `cache/`, `cache-mounts/`,
    /// `tmp/`, and `runtime/`: the runtime's state root and bundles), checks the runtime
    /// binary and detects (or, with
    /// [`EmulationMode::Auto`](crate::emulation::EmulationMode::Auto), registers) emulators.
    ///
    /// The data dir is locked for the worker's lifetime; then what a killed predecessor
    /// left in it is removed: its runtime's containers (killed), every mount below the data
    /// dir (overlay snapshots, tmpfs; detached deepest first), its bundles, active
    /// snapshots and temp dirs.
    pub fn open(config: WorkerConfig) -> Result<Worker, WorkerError> {
        let (lock, canonical) = lock_data_dir(&config.data_dir)?;
        let runc = Runc::new(config.runtime_dir(), config.runtime.clone())?;
        // The containers first (they run on the mounts), then the mounts, then the bundles.
        let containers = runc.remove_leftover_containers()?;
        let mounts = detach_leftover_mounts(&canonical)?;
        let bundles = runc.remove_leftover_bundles()?;
        if !containers.is_empty() || mounts > 0 || bundles > 0 {
            tracing::info!(
                data_dir = %canonical.display(),
                containers = containers.len(),
                mounts,
                bundles,
                "removed what a killed worker left"
            );
        }
        Worker::assemble(config, Arc::new(runc), lock)
    }

    /// As [`Worker::open`] with another executor (e.g. one that counts or records runs);
    /// `config.runtime` is not used, and no runtime state is looked for (the mounts below
    /// the data dir are still detached).
    pub fn with_executor(
        config: WorkerConfig,
        executor: Arc<dyn Executor>,
    ) -> Result<Worker, WorkerError> {
        let (lock, canonical) = lock_data_dir(&config.data_dir)?;
        let mounts = detach_leftover_mounts(&canonical)?;
        if mounts > 0 {
            tracing::info!(data_dir = %canonical.display(), mounts, "detached mounts a killed worker left");
        }
        Worker::assemble(config, executor, lock)
    }

    fn assemble(
        config: WorkerConfig,
        executor: Arc<dyn Executor>,
        lock: Flock<std::fs::File>,
    ) -> Result<Worker, WorkerError> {
        // Emulator detection runs a probe binary (does the kernel run i386?) and reads
        // binfmt_misc: it overlaps with opening the stores below instead of preceding them.
        let (mode, emulation_config) = (config.emulation, config.emulation_config.clone());
        let detecting = std::thread::Builder::new()
            .name("emulation-probe".into())
            .spawn(move || emulation::prepare(mode, &emulation_config));
        let data_dir = config.data_dir.clone();
        let tmp = data_dir.join("tmp");
        if tmp.exists() {
            crate::mounts::clear_tmp(&tmp).map_err(|source| WorkerError::Io {
                op: "clearing",
                path: tmp.clone(),
                source,
            })?;
        }
        std::fs::create_dir_all(&tmp).map_err(|source| WorkerError::Io {
            op: "creating",
            path: tmp.clone(),
            source,
        })?;
        let snapshotter = Snapshotter::open(SnapshotterConfig {
            data_dir: data_dir.join("snapshots"),
            backend: config.snapshot_backend,
        })?;
        let store = Arc::new(ContentStore::open(data_dir.join("content"))?);
        let cache = CacheIndex::open(data_dir.join("cache"))?;
        let cache_mounts =
            CacheMounts::open(data_dir.join("cache-mounts")).map_err(|source| WorkerError::Io {
                op: "creating",
                path: data_dir.join("cache-mounts"),
                source,
            })?;
        let platforms = match detecting {
            Ok(handle) => match handle.join() {
                Ok(result) => result?,
                Err(_) => emulation::prepare(config.emulation, &config.emulation_config)?,
            },
            // No thread to be had: detect here.
            Err(_) => emulation::prepare(config.emulation, &config.emulation_config)?,
        };
        let parallelism = config.parallelism();
        let registry = RegistryClient::new(config.registry, config.credentials);
        Ok(Worker {
            inner: Arc::new(Inner {
                _lock: lock,
                data_dir,
                snapshotter,
                store,
                cache,
                cache_mounts,
                executor,
                platforms,
                registry,
                parallelism,
                permits: Arc::new(tokio::sync::Semaphore::new(parallelism.max(1))),
                hash_caches: Default::default(),
                imports: tokio::sync::Mutex::new(()),
                allowed_entitlements: config.allowed_entitlements.clone(),
            }),
        })
    }

    /// The platforms this worker runs natively or through emulation.
    pub fn platforms(&self) -> &WorkerPlatforms {
        &self.inner.platforms
    }

    /// The content store holding pulled blobs and the images solves write.
    pub fn store(&self) -> &Arc<ContentStore> {
        &self.inner.store
    }

    /// The registry client base images are pulled with (and farm tasks push with).
    pub fn registry(&self) -> &RegistryClient {
        &self.inner.registry
    }

    pub fn snapshotter(&self) -> &Snapshotter {
        &self.inner.snapshotter
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.data_dir
    }

    /// Executes `req.graph` and writes one image per output. Progress events go to
    /// `progress` (a closed receiver is ignored). Cancelling `cancel` kills running
    /// containers and returns [`SolveError::Cancelled`] once everything is cleaned up.
    pub async fn solve(
        &self,
        req: SolveRequest,
        progress: mpsc::Sender<ProgressEvent>,
        cancel: CancellationToken,
    ) -> Result<SolveResult, SolveError> {
        super::run::solve(self.inner.clone(), req, progress, cancel).await
    }
}

/// Creates and locks `dir` (`<dir>/worker.lock`, held while the worker lives) and returns
/// the lock with the canonical path (the one the mount table uses).
fn lock_data_dir(dir: &Path) -> Result<(Flock<std::fs::File>, PathBuf), WorkerError> {
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| WorkerError::Io { op, path, source }
    };
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let canonical = std::fs::canonicalize(dir).map_err(io("resolving", dir))?;
    let lock_path = canonical.join("worker.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("opening", &lock_path))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok((lock, canonical)),
        Err((_, nix::Error::EWOULDBLOCK)) => Err(WorkerError::Locked { dir: canonical }),
        Err((_, errno)) => Err(io("locking", &lock_path)(errno.into())),
    }
}

/// Detaches every mount below the (canonical) data dir, deepest first, before anything
/// below it is removed; returns how many there were.
fn detach_leftover_mounts(canonical: &Path) -> Result<usize, WorkerError> {
    crate::mounts::mountinfo::detach_below(canonical)
        .map(|points| points.len())
        .map_err(|source| WorkerError::Mounts {
            dir: canonical.to_path_buf(),
            source,
        })
}
