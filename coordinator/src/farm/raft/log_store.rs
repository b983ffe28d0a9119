//! The durable Raft log in a redb database: entries by index, the vote, the committed log
//! id and the last purged log id. Every write is one redb transaction committed with
//! `Durability::Immediate` (fsync) before openraft hears that it is done.

// openraft's storage traits fix `StorageError` (224 bytes) as the error type; the private
// helpers here return it too rather than boxing and unboxing at every trait method.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader, StorageIOError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::RaftNodeError;
use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// Log entries by index, serde_json encoded.
const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// Single values (vote, committed, last purged), serde_json encoded.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_PURGED: &str = "last_purged";

/// File name of the log database inside the data directory.
pub const LOG_FILE: &str = "raft-log.redb";

/// The redb-backed log store. Cloning shares the database (the clone is the log reader).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
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
        let store = LogStore {
            db: Arc::new(db),
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

    /// Writes one meta value in its own durable transaction, off the async threads.
    async fn put_meta<T: Serialize>(
        &self,
        key: &'static str,
        value: &T,
    ) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StorageIOError::write(&e))?;
        let db = self.db.clone();
        run_blocking(move || {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(META)?;
                table.insert(key, bytes.as_slice())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| StorageIOError::write(&e).into())
    }

    fn last_entry_log_id(&self) -> Result<Option<LogId>, StorageError> {
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

/// Runs a redb operation on the blocking pool.
async fn run_blocking<T, F>(f: F) -> Result<T, redb::Error>
where
    F: FnOnce() -> Result<T, redb::Error> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(join) => Err(redb::Error::Io(std::io::Error::other(join))),
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
        raw.iter()
            .map(|b| serde_json::from_slice(b).map_err(|e| StorageIOError::read_logs(&e).into()))
            .collect()
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
        self.put_meta(KEY_VOTE, vote)
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.get_meta(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.put_meta(KEY_COMMITTED, &committed).await?;
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
        for entry in entries {
            let bytes = serde_json::to_vec(&entry)
                .map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            encoded.push((entry.log_id.index, bytes));
        }
        let db = self.db.clone();
        let result = run_blocking(move || {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(LOGS)?;
                for (index, bytes) in &encoded {
                    table.insert(*index, bytes.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await;
        match result {
            Ok(()) => {
                // The transaction is durable: only now may openraft count these entries.
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(&e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let db = self.db.clone();
        run_blocking(move || {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(LOGS)?;
                table.retain_in::<u64, _>(log_id.index.., |_, _| false)?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let db = self.db.clone();
        let purged = serde_json::to_vec(&log_id).map_err(|e| StorageIOError::write(&e))?;
        run_blocking(move || {
            let txn = db.begin_write()?;
            {
                let mut meta = txn.open_table(META)?;
                meta.insert(KEY_PURGED, purged.as_slice())?;
                let mut table = txn.open_table(LOGS)?;
                table.retain_in::<u64, _>(..=log_id.index, |_, _| false)?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
