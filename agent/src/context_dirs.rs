//! Materialized build contexts, shared by digest: the tasks of one build (its platform images,
//! its stages) and later builds with the same context read one directory instead of each
//! copying the context out of the content store into a scratch dir of its own. A stable path
//! also lets the solver's hash cache (kept per directory) answer without reading the files
//! again.
//!
//! A directory is materialized once per digest (concurrent tasks wait for the first; a failed
//! attempt is retried by the next task), into a temporary name renamed into place. Tasks hold
//! a [`ContextLease`] while they run; directories no task holds are removed beyond the newest
//! `keep`. Solves only read a context directory. The directory is wiped when the agent starts.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use slipway_graph::Digest;
use tokio::sync::OnceCell;

use super::error::AgentError;

/// One context directory and who holds it.
#[derive(Debug)]
struct Entry {
    dir: PathBuf,
    ready: OnceCell<()>,
    leases: AtomicU64,
    /// A counter value, larger for more recent use.
    last_used: AtomicU64,
}

/// Context directories under one root, by context digest.
#[derive(Debug)]
pub struct ContextDirs {
    root: PathBuf,
    keep: usize,
    entries: Mutex<HashMap<Digest, Arc<Entry>>>,
    clock: AtomicU64,
}

/// A task's hold on a context directory: not removed while held.
#[derive(Debug)]
pub struct ContextLease {
    entry: Arc<Entry>,
}

impl ContextLease {
    pub fn dir(&self) -> &Path {
        &self.entry.dir
    }
}

impl Drop for ContextLease {
    fn drop(&mut self) {
        self.entry.leases.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ContextDirs {
    /// Context directories under `root` (emptied now), keeping at most `keep` unheld ones.
    pub fn open(root: PathBuf, keep: usize) -> Result<ContextDirs, AgentError> {
        if root.exists() {
            std::fs::remove_dir_all(&root).map_err(AgentError::io("emptying", &root))?;
        }
        std::fs::create_dir_all(&root).map_err(AgentError::io("creating", &root))?;
        Ok(ContextDirs {
            root,
            keep,
            entries: Mutex::default(),
            clock: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory of context `digest`, materialized by `fill` (given an empty directory)
    /// unless a task did so already; `io` turns this module's own failures into `E`.
    pub async fn get<E, F, Fut>(
        &self,
        digest: &Digest,
        fill: F,
        io: impl Fn(AgentError) -> E,
    ) -> Result<ContextLease, E>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let entry = {
            let mut entries = self.lock();
            let entry = entries
                .entry(digest.clone())
                .or_insert_with(|| {
                    Arc::new(Entry {
                        dir: self.root.join(digest.as_str().replace(':', "-")),
                        ready: OnceCell::new(),
                        leases: AtomicU64::new(0),
                        last_used: AtomicU64::new(0),
                    })
                })
                .clone();
            entry.leases.fetch_add(1, Ordering::SeqCst);
            entry
                .last_used
                .store(self.clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
            entry
        };
        let lease = ContextLease {
            entry: entry.clone(),
        };
        let filled = entry
            .ready
            .get_or_try_init(|| async {
                let tmp = self.root.join(format!("tmp-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir(&tmp)
                    .map_err(AgentError::io("creating", &tmp))
                    .map_err(&io)?;
                match fill(tmp.clone()).await {
                    Ok(()) => std::fs::rename(&tmp, &entry.dir)
                        .map_err(AgentError::io("moving into place", &entry.dir))
                        .map_err(&io),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&tmp);
                        Err(e)
                    }
                }
            })
            .await;
        match filled {
            Ok(()) => {
                self.evict();
                Ok(lease)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes unheld directories beyond the newest `keep`, oldest first. Each is renamed
    /// away under the lock (so a new directory of the same digest is never hit) and deleted
    /// after it.
    fn evict(&self) {
        let doomed = {
            let mut entries = self.lock();
            let mut unheld: Vec<(u64, Digest)> = entries
                .iter()
                .filter(|(_, e)| e.leases.load(Ordering::SeqCst) == 0)
                .map(|(d, e)| (e.last_used.load(Ordering::SeqCst), d.clone()))
                .collect();
            let held = entries.len() - unheld.len();
            let room = self.keep.saturating_sub(held);
            unheld.sort();
            let excess = unheld.len().saturating_sub(room);
            let mut doomed = Vec::new();
            for (_, digest) in unheld.into_iter().take(excess) {
                let Some(e) = entries.remove(&digest) else {
                    continue;
                };
                let away = self.root.join(format!("old-{}", uuid::Uuid::new_v4()));
                match std::fs::rename(&e.dir, &away) {
                    Ok(()) => doomed.push(away),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => {
                        tracing::warn!(dir = %e.dir.display(), error = %err, "removing a context directory")
                    }
                }
            }
            doomed
        };
        for dir in doomed {
            if let Err(err) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %err, "removing a context directory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn digest(n: u8) -> Digest {
        Digest::of_bytes(&[n])
    }

    async fn fill_with(
        dirs: &ContextDirs,
        d: &Digest,
        calls: &AtomicUsize,
    ) -> Result<ContextLease, AgentError> {
        dirs.get(
            d,
            |tmp| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                std::fs::write(tmp.join("f"), "x").map_err(AgentError::io("writing", &tmp))
            },
            |e| e,
        )
        .await
    }

    #[tokio::test]
    async fn one_materialization_per_digest_shared_by_tasks() {
        let root = tempfile::tempdir().unwrap();
        let dirs = ContextDirs::open(root.path().join("ctx"), 2).unwrap();
        let calls = AtomicUsize::new(0);
        let one = digest(1);
        let (a, b) = tokio::join!(
            fill_with(&dirs, &one, &calls),
            fill_with(&dirs, &one, &calls)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(a.dir(), b.dir());
        assert!(a.dir().join("f").is_file());
    }

    #[tokio::test]
    async fn a_failed_fill_is_retried_and_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dirs = ContextDirs::open(root.path().join("ctx"), 2).unwrap();
        let failed: Result<ContextLease, AgentError> = dirs
            .get(&digest(1), |_| async { Err(AgentError::Cancelled) }, |e| e)
            .await;
        assert!(failed.is_err());
        let calls = AtomicUsize::new(0);
        let lease = fill_with(&dirs, &digest(1), &calls).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let names: Vec<_> = std::fs::read_dir(root.path().join("ctx"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary dir left: {names:?}");
        drop(lease);
    }

    #[tokio::test]
    async fn unheld_directories_beyond_keep_go_oldest_first_held_ones_stay() {
        let root = tempfile::tempdir().unwrap();
        let dirs = ContextDirs::open(root.path().join("ctx"), 1).unwrap();
        let calls = AtomicUsize::new(0);
        let held = fill_with(&dirs, &digest(1), &calls).await.unwrap();
        let second = fill_with(&dirs, &digest(2), &calls).await.unwrap();
        drop(second);
        // digest 1 is held: it stays though it is older; digest 2 is unheld and within keep.
        let third = fill_with(&dirs, &digest(3), &calls).await.unwrap();
        assert!(held.dir().is_dir(), "a held directory is never removed");
        assert!(third.dir().is_dir());
        assert!(
            !root
                .path()
                .join("ctx")
                .join(digest(2).as_str().replace(':', "-"))
                .exists(),
            "the unheld one beyond keep went"
        );
        // A directory asked for again after removal is materialized again.
        let again = fill_with(&dirs, &digest(2), &calls).await.unwrap();
        assert!(again.dir().join("f").is_file());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}
