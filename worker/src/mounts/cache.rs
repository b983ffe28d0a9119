//! Persistent cache mounts (`RUN --mount=type=cache`), kept under
//! `<data dir>/cache-mounts/<id>-<hash>` across solves, as BuildKit does.
//!
//! Sharing: `shared` lets every step use the directory at once; `locked` holds an async
//! mutex per id for the whole step, so a second user waits; `private` gives a step the
//! main directory when nobody uses it and otherwise a separate instance
//! (`…​.private-N`), itself kept for later private users. A new directory gets the
//! requested owner and mode and, with `from`, a copy of the seed directory's contents.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};
use slipway_graph::CacheSharing;
use tokio::sync::OwnedMutexGuard;

/// Which cache and how a new one is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMountSpec {
    pub id: String,
    pub sharing: CacheSharing,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// All cache mounts of a worker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CacheMounts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    state: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Default)]
struct Entry {
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Users of each instance (0 is the main directory).
    users: Vec<usize>,
}

/// A cache directory in use by one step; released on drop.
#[derive(Debug)]
pub struct CacheMountLease {
    dir: PathBuf,
    owner: CacheMounts,
    id: String,
    instance: usize,
    _locked: Option<OwnedMutexGuard<()>>,
}

impl CacheMountLease {
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for CacheMountLease {
    fn drop(&mut self) {
        if let Ok(mut state) = self.owner.inner.state.lock() {
            if let Some(n) = state
                .get_mut(&self.id)
                .and_then(|e| e.users.get_mut(self.instance))
            {
                *n = n.saturating_sub(1);
            }
        }
    }
}

impl CacheMounts {
    pub fn open(root: PathBuf) -> std::io::Result<CacheMounts> {
        std::fs::create_dir_all(&root)?;
        // Half-made directories of a crashed creation.
        for entry in std::fs::read_dir(&root)? {
            let p = entry?.path();
            if p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".tmp-"))
            {
                std::fs::remove_dir_all(&p)?;
            }
        }
        Ok(CacheMounts {
            inner: Arc::new(Inner {
                root,
                state: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The main directory of cache `id`.
    pub fn dir_of(&self, id: &str) -> PathBuf {
        let safe: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(40)
            .collect();
        let hash = hex::encode(Sha256::digest(id.as_bytes()));
        let short = hash.get(..16).unwrap_or(&hash);
        self.inner.root.join(format!("{safe}-{short}"))
    }

    /// Takes cache `spec.id` for one step (waiting for a `locked` one), creating it from
    /// `seed` (or empty) if it does not exist yet.
    pub async fn acquire(
        &self,
        spec: &CacheMountSpec,
        seed: Option<&Path>,
    ) -> std::io::Result<CacheMountLease> {
        let lock = {
            let mut state = self.state()?;
            state.entry(spec.id.clone()).or_default().lock.clone()
        };
        // Creation happens under the id's lock; `locked` users keep it for the step.
        let guard = lock.lock_owned().await;
        let instance = {
            let mut state = self.state()?;
            let entry = state.entry(spec.id.clone()).or_default();
            if entry.users.is_empty() {
                entry.users.push(0);
            }
            let i = match spec.sharing {
                CacheSharing::Private => match entry.users.iter().position(|n| *n == 0) {
                    Some(i) => i,
                    None => {
                        entry.users.push(0);
                        entry.users.len() - 1
                    }
                },
                CacheSharing::Shared | CacheSharing::Locked => 0,
            };
            if let Some(n) = entry.users.get_mut(i) {
                *n += 1;
            }
            i
        };
        let mut lease = CacheMountLease {
            dir: self.instance_dir(&spec.id, instance),
            owner: self.clone(),
            id: spec.id.clone(),
            instance,
            _locked: None,
        };
        if !lease.dir.exists() {
            let (root, dir, spec, seed) = (
                self.inner.root.clone(),
                lease.dir.clone(),
                spec.clone(),
                seed.map(Path::to_path_buf),
            );
            tokio::task::spawn_blocking(move || create(&root, &dir, &spec, seed.as_deref()))
                .await
                .map_err(std::io::Error::other)??;
        }
        if spec.sharing == CacheSharing::Locked {
            lease._locked = Some(guard);
        }
        Ok(lease)
    }

    fn state(&self) -> std::io::Result<std::sync::MutexGuard<'_, HashMap<String, Entry>>> {
        self.inner
            .state
            .lock()
            .map_err(|_| std::io::Error::other("cache mount state lock poisoned"))
    }

    fn instance_dir(&self, id: &str, instance: usize) -> PathBuf {
        let main = self.dir_of(id);
        if instance == 0 {
            return main;
        }
        let mut name = main.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".private-{instance}"));
        main.with_file_name(name)
    }
}

fn create(
    root: &Path,
    dir: &Path,
    spec: &CacheMountSpec,
    seed: Option<&Path>,
) -> std::io::Result<()> {
    let tmp = root.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&tmp)?;
    let _cleanup = super::RemoveOnDrop(tmp.clone());
    if let Some(seed) = seed {
        if seed.is_dir() {
            let status = std::process::Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", seed.display()))
                .arg(&tmp)
                .status()?;
            if !status.success() {
                return Err(std::io::Error::other(format!(
                    "copying the cache seed {} failed: {status}",
                    seed.display()
                )));
            }
        }
    }
    std::os::unix::fs::chown(&tmp, Some(spec.uid), Some(spec.gid))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(spec.mode & 0o7777))?;
    std::fs::rename(&tmp, dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec(id: &str, sharing: CacheSharing) -> CacheMountSpec {
        CacheMountSpec {
            id: id.into(),
            sharing,
            uid: 0,
            gid: 0,
            mode: 0o755,
        }
    }

    #[tokio::test]
    async fn locked_waits_private_splits_shared_shares() {
        let tmp = tempfile::tempdir().unwrap();
        let m = CacheMounts::open(tmp.path().join("cm")).unwrap();
        let a = m
            .acquire(&spec("x", CacheSharing::Locked), None)
            .await
            .unwrap();
        assert!(a.path().is_dir());
        let waiting = tokio::time::timeout(
            Duration::from_millis(100),
            m.acquire(&spec("x", CacheSharing::Locked), None),
        )
        .await;
        assert!(waiting.is_err(), "a second locked user must wait");
        drop(a);
        let b = m
            .acquire(&spec("x", CacheSharing::Locked), None)
            .await
            .unwrap();
        drop(b);

        let p1 = m
            .acquire(&spec("y", CacheSharing::Private), None)
            .await
            .unwrap();
        let p2 = m
            .acquire(&spec("y", CacheSharing::Private), None)
            .await
            .unwrap();
        assert_ne!(p1.path(), p2.path());
        let s1 = m
            .acquire(&spec("z", CacheSharing::Shared), None)
            .await
            .unwrap();
        let s2 = m
            .acquire(&spec("z", CacheSharing::Shared), None)
            .await
            .unwrap();
        assert_eq!(s1.path(), s2.path());
        drop((p1, p2));
        let p3 = m
            .acquire(&spec("y", CacheSharing::Private), None)
            .await
            .unwrap();
        assert_eq!(p3.path(), m.dir_of("y"));
    }

    #[tokio::test]
    async fn new_cache_gets_mode_and_seed() {
        let tmp = tempfile::tempdir().unwrap();
        let seed = tmp.path().join("seed");
        std::fs::create_dir(&seed).unwrap();
        std::fs::write(seed.join("f"), "s").unwrap();
        let m = CacheMounts::open(tmp.path().join("cm")).unwrap();
        let mut s = spec("seeded", CacheSharing::Shared);
        s.mode = 0o700;
        let l = m.acquire(&s, Some(&seed)).await.unwrap();
        assert_eq!(std::fs::read_to_string(l.path().join("f")).unwrap(), "s");
        let mode = std::fs::metadata(l.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
