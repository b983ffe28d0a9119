//! How a worker is set up.

use std::path::PathBuf;

use slipway_oci::auth::CredentialStore;
use slipway_oci::registry::RegistryConfig;

use crate::emulation::{EmulationConfig, EmulationMode};
use crate::executor::RuncConfig;
use crate::snapshot::BackendChoice;

/// Everything [`Worker::open`](super::Worker::open) needs.
#[derive(Debug)]
pub struct WorkerConfig {
    /// Snapshots, content store, cache index and cache mounts live here.
    pub data_dir: PathBuf,
    pub runtime: RuncConfig,
    pub emulation: EmulationMode,
    pub emulation_config: EmulationConfig,
    /// Vertices executed at once; 0 means the number of CPUs.
    pub max_parallel: usize,
    /// Insecure registries, retries, timeouts.
    pub registry: RegistryConfig,
    pub credentials: CredentialStore,
    pub snapshot_backend: BackendChoice,
    /// Entitlements this worker grants to builds that ask for them (buildkitd's
    /// `--allow-insecure-entitlement`).
    pub allowed_entitlements: std::collections::BTreeSet<slipway_graph::Entitlement>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            data_dir: PathBuf::from("/var/lib/slipway/worker"),
            runtime: RuncConfig::default(),
            emulation: EmulationMode::default(),
            emulation_config: EmulationConfig::default(),
            max_parallel: 0,
            registry: RegistryConfig::default(),
            credentials: CredentialStore::default(),
            snapshot_backend: BackendChoice::default(),
            allowed_entitlements: Default::default(),
        }
    }
}

impl WorkerConfig {
    /// `max_parallel`, with 0 resolved to the number of CPUs.
    pub fn parallelism(&self) -> usize {
        match self.max_parallel {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}
