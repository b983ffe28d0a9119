//! Group commit for the log: one thread owns every redb write. It takes all queued
//! operations, applies them in order in one transaction, commits durably (one fsync for the
//! whole batch), and only then reports each append as flushed. Concurrent client writes
//! thus share fsyncs instead of queueing behind one each.

use std::sync::mpsc;
use std::sync::Arc;

use openraft::storage::LogFlushed;
use redb::Database;
use tokio::sync::oneshot;

use super::types::TypeConfig;

/// Serialized operations on the log database, applied in queue order.
pub(crate) enum Op {
    Append {
        entries: Vec<(u64, Vec<u8>)>,
        flushed: LogFlushed<TypeConfig>,
        /// Called after the commit (drops the entries from the in-memory pending set).
        after: Box<dyn FnOnce() + Send>,
    },
    Meta {
        key: &'static str,
        value: Vec<u8>,
        done: Option<oneshot::Sender<Result<(), String>>>,
    },
    /// Removes entries with index >= `from`.
    Truncate {
        from: u64,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// Records `purged` as the last purged log id and removes entries with index <= `upto`.
    Purge {
        upto: u64,
        purged: Vec<u8>,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// Starts the writer thread; it ends when every sender is dropped.
pub(crate) fn spawn(db: Arc<Database>) -> std::io::Result<mpsc::Sender<Op>> {
    let (tx, rx) = mpsc::channel::<Op>();
    std::thread::Builder::new()
        .name("raft-log-writer".to_string())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let result = write_batch(&db, &batch).map_err(|e| e.to_string());
                finish(batch, result);
            }
        })?;
    Ok(tx)
}

fn write_batch(db: &Database, batch: &[Op]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut logs = txn.open_table(super::log_store::LOGS)?;
        let mut meta = txn.open_table(super::log_store::META)?;
        for op in batch {
            match op {
                Op::Append { entries, .. } => {
                    for (index, bytes) in entries {
                        logs.insert(*index, bytes.as_slice())?;
                    }
                }
                Op::Meta { key, value, .. } => {
                    meta.insert(*key, value.as_slice())?;
                }
                Op::Truncate { from, .. } => {
                    logs.retain_in::<u64, _>(*from.., |_, _| false)?;
                }
                Op::Purge { upto, purged, .. } => {
                    meta.insert(super::log_store::KEY_PURGED, purged.as_slice())?;
                    logs.retain_in::<u64, _>(..=*upto, |_, _| false)?;
                }
            }
        }
    }
    txn.commit()?;
    Ok(())
}

/// Reports the batch's outcome to everyone waiting on it.
fn finish(batch: Vec<Op>, result: Result<(), String>) {
    for op in batch {
        match op {
            Op::Append { flushed, after, .. } => {
                after();
                flushed.log_io_completed(result.clone().map_err(std::io::Error::other));
            }
            Op::Meta { done, .. } => {
                if let Some(done) = done {
                    let _ = done.send(result.clone());
                }
            }
            Op::Truncate { done, .. } | Op::Purge { done, .. } => {
                let _ = done.send(result.clone());
            }
        }
    }
}
