//! Configuration of a Raft node.

use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::ClientTlsConfig;

use super::error::RaftNodeError;
use super::types::NodeId;

/// How to open a [`super::RaftNode`].
#[derive(Clone, Debug)]
pub struct RaftConfig {
    pub node_id: NodeId,
    /// `host:port` the other coordinators reach this node's Raft service at.
    pub addr: String,
    /// Holds `raft-log.redb` and `raft-snapshot`.
    pub data_dir: PathBuf,
    /// TLS for connections to peers (mTLS in production); plaintext when `None`.
    pub tls: Option<ClientTlsConfig>,
    pub heartbeat_interval: Duration,
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
    /// Build a snapshot (and purge the log before it) after this many applied entries.
    pub snapshot_every_logs: u64,
    /// Entries kept in the log behind a snapshot (lets slow followers catch up without one).
    pub logs_kept_after_snapshot: u64,
    /// How long `write`/`ensure_linearizable` wait for a commit before `Timeout`.
    pub write_timeout: Duration,
    /// How long `add_node` waits for the learner to catch up.
    pub catch_up_timeout: Duration,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            node_id: 0,
            addr: String::new(),
            data_dir: PathBuf::new(),
            tls: None,
            heartbeat_interval: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(300),
            election_timeout_max: Duration::from_millis(600),
            snapshot_every_logs: 5_000,
            logs_kept_after_snapshot: 1_000,
            write_timeout: Duration::from_secs(5),
            catch_up_timeout: Duration::from_secs(60),
        }
    }
}

impl RaftConfig {
    /// openraft's configuration, validated.
    pub(crate) fn openraft(&self) -> Result<openraft::Config, RaftNodeError> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let config = openraft::Config {
            cluster_name: "slipway".to_string(),
            heartbeat_interval: ms(self.heartbeat_interval),
            election_timeout_min: ms(self.election_timeout_min),
            election_timeout_max: ms(self.election_timeout_max),
            install_snapshot_timeout: 10_000,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every_logs),
            max_in_snapshot_log_to_keep: self.logs_kept_after_snapshot,
            max_payload_entries: 1_000,
            ..Default::default()
        };
        config.validate().map_err(|source| RaftNodeError::Config {
            source: Box::new(source),
        })
    }
}
