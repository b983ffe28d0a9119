//! Worker leases, held in the leader's memory only (never written through Raft).
//!
//! How expiry is decided:
//! - A worker's lease is renewed by its `Renew` calls (and granted by `Register`); the
//!   leader records the time of the last renewal.
//! - The leader expires a worker when `now > last renewal + TTL` ([`slipway_farm::Lease`]);
//!   the controller then commits `WorkerLost` and the state machine re-queues its tasks.
//! - A new leader knows no renewal times: it grants every registered worker a full TTL from
//!   its election (any worker it has no lease for gets one starting now). A worker that died
//!   while the cluster had no leader is therefore declared lost at most one TTL after the
//!   election.
//! - A leader that steps down forgets every lease, so winning again starts a fresh grace.
//! - Renewals are not replicated: losing them with the leader only delays expiry by one TTL.

use slipway_farm::{Lease, WorkerId};
use std::collections::BTreeMap;
use uuid::Uuid;

/// One worker's lease: which incarnation holds it and when it was last renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub incarnation: Uuid,
    pub lease: Lease,
}

/// The leader's lease table.
#[derive(Debug, Clone)]
pub struct Leases {
    ttl_ms: u64,
    held: BTreeMap<WorkerId, Held>,
}

impl Leases {
    pub fn new(ttl_ms: u64) -> Leases {
        Leases {
            ttl_ms,
            held: BTreeMap::new(),
        }
    }

    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }

    /// Forgets every lease (the node stopped being the leader).
    pub fn clear(&mut self) {
        self.held.clear();
    }

    /// Grants (or re-grants) a full lease from `now_ms` to this incarnation.
    pub fn grant(&mut self, worker: &WorkerId, incarnation: Uuid, now_ms: u64) {
        self.held.insert(
            worker.clone(),
            Held {
                incarnation,
                lease: Lease {
                    renewed_ms: now_ms,
                    ttl_ms: self.ttl_ms,
                },
            },
        );
    }

    /// Renews the lease of this incarnation; `false` when the leader holds no lease for it
    /// (another incarnation, or expired and dropped): the worker must register again.
    pub fn renew(&mut self, worker: &WorkerId, incarnation: Uuid, now_ms: u64) -> bool {
        match self.held.get_mut(worker) {
            Some(h) if h.incarnation == incarnation && !h.lease.expired(now_ms) => {
                h.lease.renewed_ms = h.lease.renewed_ms.max(now_ms);
                true
            }
            _ => false,
        }
    }

    /// Brings the table in line with the registered workers of the replicated state: a
    /// worker without a lease (new leader, or registered through another leader) gets a full
    /// TTL from `now_ms`; leases of workers no longer registered, or of an older incarnation,
    /// are dropped.
    pub fn sync<'a>(
        &mut self,
        registered: impl IntoIterator<Item = (&'a WorkerId, Uuid)>,
        now_ms: u64,
    ) {
        let mut keep = BTreeMap::new();
        for (worker, incarnation) in registered {
            let held = match self.held.get(worker) {
                Some(h) if h.incarnation == incarnation => *h,
                _ => Held {
                    incarnation,
                    lease: Lease {
                        renewed_ms: now_ms,
                        ttl_ms: self.ttl_ms,
                    },
                },
            };
            keep.insert(worker.clone(), held);
        }
        self.held = keep;
    }

    /// Workers whose lease ran out at `now_ms` (`now > renewed + ttl`).
    pub fn expired(&self, now_ms: u64) -> Vec<(WorkerId, Uuid)> {
        self.held
            .iter()
            .filter(|(_, h)| h.lease.expired(now_ms))
            .map(|(w, h)| (w.clone(), h.incarnation))
            .collect()
    }

    /// Drops a worker's lease (after `WorkerLost` was committed).
    pub fn remove(&mut self, worker: &WorkerId) {
        self.held.remove(worker);
    }

    /// Whether the worker holds a lease that has not run out.
    pub fn is_live(&self, worker: &WorkerId, now_ms: u64) -> bool {
        self.held
            .get(worker)
            .is_some_and(|h| !h.lease.expired(now_ms))
    }

    /// Workers holding a lease that has not run out.
    pub fn live(&self, now_ms: u64) -> Vec<WorkerId> {
        self.held
            .iter()
            .filter(|(_, h)| !h.lease.expired(now_ms))
            .map(|(w, _)| w.clone())
            .collect()
    }

    pub fn get(&self, worker: &WorkerId) -> Option<Held> {
        self.held.get(worker).copied()
    }

    /// Milliseconds since the worker's last renewal.
    pub fn age_ms(&self, worker: &WorkerId, now_ms: u64) -> Option<u64> {
        self.held.get(worker).map(|h| h.lease.age_ms(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(name: &str) -> WorkerId {
        name.parse().unwrap()
    }

    #[test]
    fn expires_only_after_last_renewal_plus_ttl() {
        let mut l = Leases::new(1_000);
        let inc = Uuid::new_v4();
        l.grant(&w("a"), inc, 10_000);
        assert!(l.renew(&w("a"), inc, 10_600));
        assert!(l.expired(11_600).is_empty());
        assert_eq!(l.expired(11_601), vec![(w("a"), inc)]);
        assert!(!l.is_live(&w("a"), 11_601));
        assert_eq!(l.age_ms(&w("a"), 10_700), Some(100));
    }

    #[test]
    fn renew_refuses_other_incarnations_and_expired_leases() {
        let mut l = Leases::new(1_000);
        let inc = Uuid::new_v4();
        assert!(!l.renew(&w("a"), inc, 0));
        l.grant(&w("a"), inc, 0);
        assert!(!l.renew(&w("a"), Uuid::new_v4(), 10));
        assert!(!l.renew(&w("a"), inc, 1_001));
    }

    #[test]
    fn a_new_leader_grants_every_registered_worker_a_full_ttl() {
        let mut l = Leases::new(1_000);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        l.grant(&w("a"), a, 0);
        l.clear();
        l.sync([(&w("a"), a), (&w("b"), b)], 50_000);
        assert!(l.expired(51_000).is_empty());
        assert_eq!(l.live(51_000), vec![w("a"), w("b")]);
        assert_eq!(l.expired(51_001).len(), 2);
    }

    #[test]
    fn sync_keeps_renewals_and_drops_stale_incarnations_and_unregistered_workers() {
        let mut l = Leases::new(1_000);
        let (a, b, b2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        l.grant(&w("a"), a, 0);
        l.grant(&w("b"), b, 0);
        l.grant(&w("c"), Uuid::new_v4(), 0);
        l.sync([(&w("a"), a), (&w("b"), b2)], 900);
        assert_eq!(l.get(&w("a")).unwrap().lease.renewed_ms, 0);
        assert_eq!(l.get(&w("b")).unwrap().incarnation, b2);
        assert_eq!(l.get(&w("b")).unwrap().lease.renewed_ms, 900);
        assert!(l.get(&w("c")).is_none());
        l.remove(&w("a"));
        assert_eq!(l.live(900), vec![w("b")]);
    }
}
