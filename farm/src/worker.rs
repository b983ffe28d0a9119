//! Workers: what they can run and where their data plane listens.

use crate::{FarmError, WorkerId};
use serde::{Deserialize, Serialize};
use slipway_graph::Platform;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Platforms a worker runs natively and through QEMU user emulation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSupport {
    pub native: Vec<Platform>,
    pub emulated: Vec<Platform>,
}

/// How a worker would run a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Placement {
    Native,
    Emulated,
}

impl PlatformSupport {
    /// Native before emulated; `None` when the worker cannot run `platform`.
    pub fn placement(&self, platform: &Platform) -> Option<Placement> {
        if self.native.iter().any(|p| p == platform) {
            Some(Placement::Native)
        } else if self.emulated.iter().any(|p| p == platform) {
            Some(Placement::Emulated)
        } else {
            None
        }
    }
}

/// What a worker tells the coordinators when it registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub id: WorkerId,
    /// New on every start of the worker process; a registration with a new incarnation
    /// means the previous one's running tasks are gone.
    pub incarnation: Uuid,
    pub platforms: PlatformSupport,
    /// Tasks run at once.
    pub slots: u32,
    pub labels: BTreeMap<String, String>,
    /// `host:port` of the worker's QUIC data plane.
    pub data_addr: String,
}

impl WorkerSpec {
    pub fn validate(&self) -> Result<(), FarmError> {
        let bad = |reason: &str| FarmError::InvalidWorker {
            worker: self.id.to_string(),
            reason: reason.to_string(),
        };
        if self.slots == 0 {
            return Err(bad("slots must be at least 1"));
        }
        if self.platforms.native.is_empty() && self.platforms.emulated.is_empty() {
            return Err(bad("runs no platform"));
        }
        if self.data_addr.is_empty() {
            return Err(bad("has no data-plane address"));
        }
        Ok(())
    }
}

/// A worker's lease as the leader sees it (leader memory, not Raft state): renewed by the
/// worker, expired by the leader when `now_ms > renewed_ms + ttl_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub renewed_ms: u64,
    pub ttl_ms: u64,
}

impl Lease {
    pub fn expired(&self, now_ms: u64) -> bool {
        now_ms > self.renewed_ms.saturating_add(self.ttl_ms)
    }
    pub fn age_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.renewed_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_wins_over_emulated() {
        let amd64 = Platform::linux("amd64", "");
        let arm64 = Platform::linux("arm64", "");
        let s = PlatformSupport {
            native: vec![amd64.clone()],
            emulated: vec![arm64.clone(), amd64.clone()],
        };
        assert_eq!(s.placement(&amd64), Some(Placement::Native));
        assert_eq!(s.placement(&arm64), Some(Placement::Emulated));
        assert_eq!(s.placement(&Platform::linux("riscv64", "")), None);
        assert!(Placement::Native < Placement::Emulated);
    }

    #[test]
    fn lease_expiry() {
        let l = Lease {
            renewed_ms: 1_000,
            ttl_ms: 500,
        };
        assert!(!l.expired(1_500));
        assert!(l.expired(1_501));
        assert_eq!(l.age_ms(1_200), 200);
    }
}
