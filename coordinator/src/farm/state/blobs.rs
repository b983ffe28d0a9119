//! Which workers hold which blobs (contexts, layers, images), for the data plane's
//! `FindBlob` and the scheduler's affinity.

use serde::{Deserialize, Serialize};
use slipway_farm::WorkerId;
use slipway_graph::Digest;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobLocations {
    by_digest: BTreeMap<Digest, BTreeSet<WorkerId>>,
}

impl BlobLocations {
    /// Records that `worker` holds `digest`; false when it was already recorded.
    pub fn record(&mut self, digest: Digest, worker: WorkerId) -> bool {
        self.by_digest.entry(digest).or_default().insert(worker)
    }

    /// Forgets that `worker` holds `digest`; false when it was not recorded.
    pub fn forget(&mut self, digest: &Digest, worker: &WorkerId) -> bool {
        let Some(holders) = self.by_digest.get_mut(digest) else {
            return false;
        };
        let removed = holders.remove(worker);
        if holders.is_empty() {
            self.by_digest.remove(digest);
        }
        removed
    }

    /// Whether any worker is recorded as holding `digest`.
    pub fn is_held(&self, digest: &Digest) -> bool {
        self.by_digest.contains_key(digest)
    }

    /// Workers recorded as holding `digest`, in name order.
    pub fn holders(&self, digest: &Digest) -> impl Iterator<Item = &WorkerId> {
        self.by_digest.get(digest).into_iter().flatten()
    }

    /// Every recorded (digest, worker) pair.
    pub fn iter(&self) -> impl Iterator<Item = (&Digest, &WorkerId)> {
        self.by_digest
            .iter()
            .flat_map(|(d, ws)| ws.iter().map(move |w| (d, w)))
    }

    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::state::test_support::wid;

    #[test]
    fn records_once_and_lists_holders() {
        let mut b = BlobLocations::default();
        let d = Digest::of_bytes(b"ctx");
        assert!(b.record(d.clone(), wid("w2")));
        assert!(!b.record(d.clone(), wid("w2")));
        assert!(b.record(d.clone(), wid("w1")));
        let holders: Vec<_> = b.holders(&d).map(|w| w.as_str()).collect();
        assert_eq!(holders, ["w1", "w2"]);
        assert_eq!(b.holders(&Digest::of_bytes(b"other")).count(), 0);
        assert_eq!(b.iter().count(), 2);
        assert_eq!(b.len(), 1);
    }
}
