//! The state machine: [`FarmState`] in memory behind a lock, plus the last applied log id
//! and membership. Snapshots are the serde_json of the state, persisted to one file in the
//! data directory (`raft-snapshot`: a JSON line of metadata, then the state's JSON) so a
//! restarted node starts from its last snapshot and re-applies the committed log after it.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::error::RaftNodeError;
use super::types::{
    Entry, FarmState, LogId, Response, Snapshot, SnapshotMeta, StorageError, StoredMembership,
    TypeConfig,
};

/// File name of the persisted snapshot inside the data directory.
pub const SNAPSHOT_FILE: &str = "raft-snapshot";

/// What is applied, under one lock so a snapshot sees a consistent view.
#[derive(Default)]
pub(crate) struct Applied {
    pub(crate) state: FarmState,
    pub(crate) last_applied: Option<LogId>,
    pub(crate) membership: StoredMembership,
}

/// State shared between the state machine (owned by openraft) and [`super::RaftNode`].
pub(crate) struct Shared {
    applied: RwLock<Applied>,
    applied_tx: watch::Sender<u64>,
    snapshot_seq: AtomicU64,
    dir: PathBuf,
}

impl Shared {
    /// Read access; a poisoned lock still holds a consistent state (apply never panics
    /// half-way through a batch entry), so poisoning is ignored.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Applied> {
        self.applied.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Applied> {
        self.applied.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn applied_watch(&self) -> watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }
}

/// The metadata line of the snapshot file.
#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    meta: SnapshotMeta,
}

/// The openraft state machine.
pub struct StateMachine {
    shared: Arc<Shared>,
}

impl StateMachine {
    /// Opens the state machine from `dir`, loading the persisted snapshot if there is one.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Arc<Shared>), RaftNodeError> {
        let mut applied = Applied::default();
        if let Some((meta, data)) = read_snapshot_file(dir)? {
            let path = dir.join(SNAPSHOT_FILE);
            applied.state =
                serde_json::from_slice(&data).map_err(|e| RaftNodeError::SnapshotMalformed {
                    path,
                    message: e.to_string(),
                })?;
            applied.last_applied = meta.last_log_id;
            applied.membership = meta.last_membership;
        }
        let index = applied.last_applied.map(|l| l.index).unwrap_or(0);
        let (applied_tx, _) = watch::channel(index);
        let shared = Arc::new(Shared {
            applied: RwLock::new(applied),
            applied_tx,
            snapshot_seq: AtomicU64::new(0),
            dir: dir.to_path_buf(),
        });
        Ok((
            StateMachine {
                shared: shared.clone(),
            },
            shared,
        ))
    }
}

/// Reads `<dir>/raft-snapshot`: `None` when absent.
fn read_snapshot_file(dir: &Path) -> Result<Option<(SnapshotMeta, Vec<u8>)>, RaftNodeError> {
    let path = dir.join(SNAPSHOT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RaftNodeError::SnapshotFile { path, source }),
    };
    let Some(split) = bytes.iter().position(|b| *b == b'\n') else {
        return Err(RaftNodeError::SnapshotMalformed {
            path,
            message: "no metadata line".to_string(),
        });
    };
    let (head, rest) = bytes.split_at(split);
    let header: SnapshotHeader =
        serde_json::from_slice(head).map_err(|e| RaftNodeError::SnapshotMalformed {
            path: path.clone(),
            message: format!("metadata: {e}"),
        })?;
    Ok(Some((
        header.meta,
        rest.get(1..).unwrap_or_default().to_vec(),
    )))
}

/// Writes the snapshot file atomically (temp file, fsync, rename).
fn write_snapshot_file(dir: &Path, meta: &SnapshotMeta, data: &[u8]) -> std::io::Result<()> {
    let header = serde_json::to_vec(&SnapshotHeader { meta: meta.clone() })
        .map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&header)?;
        f.write_all(b"\n")?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(SNAPSHOT_FILE))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Make the rename durable; not every platform supports syncing a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Builds a snapshot of the applied state (a consistent view under the read lock).
pub struct SnapshotBuilder {
    shared: Arc<Shared>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (data, last_log_id, last_membership) = {
            let applied = self.shared.read();
            let data = serde_json::to_vec(&applied.state)
                .map_err(|e| StorageIOError::read_state_machine(&e))?;
            (data, applied.last_applied, applied.membership.clone())
        };
        let seq = self.shared.snapshot_seq.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match last_log_id {
            Some(l) => format!("{}-{}-{seq}", l.leader_id, l.index),
            None => format!("none-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
            snapshot_id,
        };
        let dir = self.shared.dir.clone();
        let (meta, data) = persist(dir, meta, data).await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

/// Persists a snapshot on the blocking pool and hands its parts back.
async fn persist(
    dir: PathBuf,
    meta: SnapshotMeta,
    data: Vec<u8>,
) -> Result<(SnapshotMeta, Vec<u8>), StorageError> {
    let signature = meta.signature();
    let joined = tokio::task::spawn_blocking(move || {
        let r = write_snapshot_file(&dir, &meta, &data);
        (r, meta, data)
    })
    .await;
    match joined {
        Ok((Ok(()), meta, data)) => Ok((meta, data)),
        Ok((Err(e), _, _)) => Err(StorageIOError::write_snapshot(Some(signature), &e).into()),
        Err(e) => Err(StorageIOError::write_snapshot(Some(signature), &e).into()),
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.shared.read();
        Ok((applied.last_applied, applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut responses = Vec::new();
        let last = {
            let mut applied = self.shared.write();
            for entry in entries {
                applied.last_applied = Some(entry.log_id);
                let response = match entry.payload {
                    EntryPayload::Blank => Response::Ok,
                    EntryPayload::Normal(cmd) => applied.state.apply(cmd),
                    EntryPayload::Membership(m) => {
                        applied.membership = StoredMembership::new(Some(entry.log_id), m);
                        Response::Ok
                    }
                };
                responses.push(response);
            }
            applied.last_applied
        };
        if let Some(last) = last {
            self.shared.applied_tx.send_replace(last.index);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            shared: self.shared.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let state: FarmState = serde_json::from_slice(&data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        let (meta, _) = persist(self.shared.dir.clone(), meta.clone(), data).await?;
        {
            let mut applied = self.shared.write();
            applied.state = state;
            applied.last_applied = meta.last_log_id;
            applied.membership = meta.last_membership.clone();
        }
        self.shared
            .applied_tx
            .send_replace(meta.last_log_id.map(|l| l.index).unwrap_or(0));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let dir = self.shared.dir.clone();
        let read = tokio::task::spawn_blocking(move || read_snapshot_file(&dir))
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        match read {
            Ok(None) => Ok(None),
            Ok(Some((meta, data))) => Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            })),
            Err(e) => Err(StorageIOError::read_snapshot(None, &e).into()),
        }
    }
}
