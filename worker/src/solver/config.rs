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
    /// Snapshots, content store, cache index, cache mounts and the runtime's state
    /// ([`WorkerConfig::runtime_dir`]) live here.
    pub data_dir: PathBuf,
    /// Which OCI runtime and how containers run; its state is always under `data_dir`.
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
    /// `<data_dir>/runtime`: the runtime's state root and the bundles of this worker's
    /// containers, so two workers or builds on one machine never see each other's, and
    /// what a killed worker left is found (and removed) by the next one on its data dir.
    pub fn runtime_dir(&self) -> PathBuf {
        self.data_dir.join("runtime")
    }

    /// `max_parallel`, with 0 resolved to the number of CPUs.
    pub fn parallelism(&self) -> usize {
        match self.max_parallel {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}
