//! The durable Raft log in a redb database: entries by index, the vote, the committed log
//! id and the last purged log id. Writes go through the group-commit writer
//! ([`super::log_writer`]): appended entries are readable at once from an in-memory pending
//! set and reported flushed to openraft only after their redb transaction is durably
//! committed; votes, truncations and purges wait for their commit.

// openraft's storage traits fix `StorageError` (224 bytes) as the error type; the private
// helpers here return it too rather than boxing and unboxing at every trait method.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader, StorageIOError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use super::error::RaftNodeError;
use super::log_writer::{self, Op};
use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// Log entries by index, serde_json encoded.
pub(crate) const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// Single values (vote, committed, last purged), serde_json encoded.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
pub(crate) const KEY_PURGED: &str = "last_purged";

/// File name of the log database inside the data directory.
pub const LOG_FILE: &str = "raft-log.redb";

/// The redb-backed log store. Cloning shares the database (the clone is the log reader).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    writer: mpsc::Sender<Op>,
    /// Appended entries whose batch is not yet committed, by index.
    pending: Arc<Mutex<BTreeMap<u64, Entry>>>,
    /// Index of the last committed entry openraft told us about (0 when none); shared with
    /// the node for its metrics.
    committed: Arc<AtomicU64>,
}

impl LogStore {
    /// Opens (or creates) `<dir>/raft-log.redb`.
    pub fn open(dir: &Path) -> Result<Self, RaftNodeError> {
        let path = dir.join(LOG_FILE);
        let db = Database::create(&path).map_err(|source| RaftNodeError::OpenLog {
            path: path.clone(),
            source: Box::new(source.into()),
        })?;
        let init = || -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            txn.open_table(LOGS)?;
            txn.open_table(META)?;
            txn.commit()?;
            Ok(())
        };
        init().map_err(|source| RaftNodeError::OpenLog {
            path: path.clone(),
            source: Box::new(source),
        })?;
        let db = Arc::new(db);
        let writer = log_writer::spawn(db.clone()).map_err(|e| RaftNodeError::OpenLog {
            path: path.clone(),
            source: Box::new(redb::Error::Io(e)),
        })?;
        let store = LogStore {
            db,
            writer,
            pending: Arc::new(Mutex::new(BTreeMap::new())),
            committed: Arc::new(AtomicU64::new(0)),
        };
        let committed = store
            .get_meta::<Option<LogId>>(KEY_COMMITTED)
            .map_err(|e| RaftNodeError::Storage {
                source: Box::new(e),
            })?
            .flatten();
        store
            .committed
            .store(committed.map(|l| l.index).unwrap_or(0), Ordering::Relaxed);
        Ok(store)
    }

    /// The committed index as last saved by openraft (0 before anything was committed).
    pub fn committed_index(&self) -> Arc<AtomicU64> {
        self.committed.clone()
    }

    fn get_meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        let read = || -> Result<Option<Vec<u8>>, redb::Error> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(META)?;
            Ok(table.get(key)?.map(|v| v.value().to_vec()))
        };
        let bytes = read().map_err(|e| StorageIOError::read(&e))?;
        match bytes {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| StorageIOError::read(&e).into()),
        }
    }

    /// Queues `op` for the writer and waits for its commit.
    async fn submit(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<(), String>>) -> Op,
    ) -> Result<(), StorageError> {
        let (done, wait) = oneshot::channel();
        let gone = || StorageIOError::write(&WriterGone).into();
        self.writer.send(op(done)).map_err(|_| gone())?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StorageIOError::write(&WriteFailed { message }).into()),
            Err(_) => Err(gone()),
        }
    }

    fn pending(&self) -> MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn last_entry_log_id(&self) -> Result<Option<LogId>, StorageError> {
        if let Some((_, entry)) = self.pending().last_key_value() {
            return Ok(Some(entry.log_id));
        }
        let read = || -> Result<Option<Vec<u8>>, redb::Error> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(LOGS)?;
            let last = table.last()?.map(|(_, v)| v.value().to_vec());
            Ok(last)
        };
        let bytes = read().map_err(|e| StorageIOError::read_logs(&e))?;
        match bytes {
            None => Ok(None),
            Some(b) => {
                let entry: Entry =
                    serde_json::from_slice(&b).map_err(|e| StorageIOError::read_logs(&e))?;
                Ok(Some(entry.log_id))
            }
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(s) => Bound::Included(*s),
            Bound::Excluded(s) => Bound::Excluded(*s),
            Bound::Unbounded => Bound::Unbounded,
        };
        let end = match range.end_bound() {
            Bound::Included(s) => Bound::Included(*s),
            Bound::Excluded(s) => Bound::Excluded(*s),
            Bound::Unbounded => Bound::Unbounded,
        };
        // Pending first: an entry leaves the pending set only after its commit, so whatever
        // is missing here is visible to the read transaction below.
        let pending: Vec<Entry> = self
            .pending()
            .range::<u64, _>((start, end))
            .map(|(_, e)| e.clone())
            .collect();
        let read = || -> Result<Vec<Vec<u8>>, redb::Error> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(LOGS)?;
            let mut out = Vec::new();
            for item in table.range::<u64>((start, end))? {
                let (_, v) = item?;
                out.push(v.value().to_vec());
            }
            Ok(out)
        };
        let raw = read().map_err(|e| StorageIOError::read_logs(&e))?;
        let mut entries = BTreeMap::new();
        for bytes in &raw {
            let entry: Entry =
                serde_json::from_slice(bytes).map_err(|e| StorageIOError::read_logs(&e))?;
            entries.insert(entry.log_id.index, entry);
        }
        for entry in pending {
            entries.insert(entry.log_id.index, entry);
        }
        Ok(entries.into_values().collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.get_meta(KEY_PURGED)?;
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let value = serde_json::to_vec(vote).map_err(|e| StorageIOError::write_vote(&e))?;
        self.submit(|done| Op::Meta {
            key: KEY_VOTE,
            value,
            done: Some(done),
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.get_meta(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not awaited: the committed id is an optimisation for restarts (replay up to it);
        // it becomes durable with the next batch.
        let value = serde_json::to_vec(&committed).map_err(|e| StorageIOError::write(&e))?;
        let op = Op::Meta {
            key: KEY_COMMITTED,
            value,
            done: None,
        };
        self.writer
            .send(op)
            .map_err(|_| StorageIOError::write(&WriterGone))?;
        self.committed
            .store(committed.map(|l| l.index).unwrap_or(0), Ordering::Relaxed);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut encoded = Vec::new();
        let mut flushed_ids = Vec::new();
        {
            let mut pending = self.pending();
            for entry in entries {
                let bytes = serde_json::to_vec(&entry)
                    .map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
                encoded.push((entry.log_id.index, bytes));
                flushed_ids.push(entry.log_id);
                pending.insert(entry.log_id.index, entry);
            }
        }
        let shared = self.pending.clone();
        let after = Box::new(move || {
            let mut pending = shared.lock().unwrap_or_else(|p| p.into_inner());
            for id in flushed_ids {
                // A later append may have replaced this index (after a truncate): keep it.
                if pending.get(&id.index).map(|e| e.log_id) == Some(id) {
                    pending.remove(&id.index);
                }
            }
        });
        // The writer calls `callback` once the batch holding these entries is durable.
        self.writer
            .send(Op::Append {
                entries: encoded,
                flushed: callback,
                after,
            })
            .map_err(|_| StorageIOError::write_logs(&WriterGone).into())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.pending().retain(|index, _| *index < log_id.index);
        self.submit(|done| Op::Truncate {
            from: log_id.index,
            done,
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let purged = serde_json::to_vec(&log_id).map_err(|e| StorageIOError::write(&e))?;
        self.pending().retain(|index, _| *index > log_id.index);
        self.submit(|done| Op::Purge {
            upto: log_id.index,
            purged,
            done,
        })
        .await
    }
}

/// The writer thread has stopped (the store is being dropped).
#[derive(Debug, thiserror::Error)]
#[error("the raft log writer has stopped")]
struct WriterGone;

/// The writer's transaction failed.
#[derive(Debug, thiserror::Error)]
#[error("raft log write failed: {message}")]
struct WriteFailed {
    message: String,
}
