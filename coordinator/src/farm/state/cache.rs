//! The shared cache index: cache key → layers, fed by the workers' `RecordCache` and
//! pruned by `ForgetBlobs` (an entry disappears when no copy of one of its blobs remains),
//! and worker draining.

use super::{FarmState, Refusal};
use slipway_farm::cache::{CacheLayer, CacheRecord};
use slipway_farm::WorkerId;
use slipway_graph::Digest;
use std::collections::BTreeSet;

type Applied = Result<(), Refusal>;

/// Whether `key` is a cache key (64 lower-case hex digits).
fn is_cache_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The blob digests of `layers`, or the first one that is not a digest.
fn layer_digests(layers: &[CacheLayer]) -> Result<Vec<Digest>, String> {
    layers
        .iter()
        .map(|l| l.digest.parse::<Digest>().map_err(|_| l.digest.clone()))
        .collect()
}

impl FarmState {
    /// The layers the shared index records for `key`.
    pub fn cache_entry(&self, key: &str) -> Option<&[CacheLayer]> {
        self.cache.get(key).map(Vec::as_slice)
    }

    /// Entries of the shared cache index, in key order.
    pub fn cache_entries(&self) -> impl Iterator<Item = (&str, &[CacheLayer])> {
        self.cache.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Digests of blobs the index names for any of `keys` (for placement affinity).
    pub fn cache_blobs<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> BTreeSet<Digest> {
        keys.into_iter()
            .filter_map(|k| self.cache.get(k))
            .flat_map(|layers| layers.iter())
            .filter_map(|l| l.digest.parse().ok())
            .collect()
    }

    /// Whether every layer blob of `layers` is recorded on some worker.
    fn all_held(&self, layers: &[CacheLayer]) -> bool {
        layers.iter().all(|l| {
            l.digest
                .parse::<Digest>()
                .is_ok_and(|d| self.blobs.is_held(&d))
        })
    }

    pub(super) fn record_cache(&mut self, worker: &WorkerId, records: Vec<CacheRecord>) -> Applied {
        if !self.workers.contains_key(worker) {
            return Err(Refusal::Rejected(format!("unknown worker {worker}")));
        }
        // Check everything first: a bad record changes nothing.
        let mut digests = Vec::with_capacity(records.len());
        for r in &records {
            if !is_cache_key(&r.key) {
                return Err(Refusal::Rejected(format!(
                    "cache key {:?} is not 64 lower-case hex digits",
                    r.key
                )));
            }
            let d = layer_digests(&r.layers).map_err(|bad| {
                Refusal::Rejected(format!("cache record {}: layer digest {bad:?}", r.key))
            })?;
            digests.push(d);
        }
        let mut changed = false;
        for (r, ds) in records.into_iter().zip(digests) {
            for d in ds {
                changed |= self.blobs.record(d, worker.clone());
            }
            // The first record of a key stays while its blobs exist (records of one key
            // describe equivalent results; keeping one keeps answers stable).
            let keep_existing = self
                .cache
                .get(&r.key)
                .is_some_and(|existing| *existing == r.layers || self.all_held(existing));
            if !keep_existing {
                self.cache.insert(r.key, r.layers);
                changed = true;
            }
        }
        if changed {
            Ok(())
        } else {
            Err(Refusal::Ignored(format!(
                "worker {worker}: every cache record was already known"
            )))
        }
    }

    pub(super) fn forget_blobs(&mut self, worker: &WorkerId, digests: &[Digest]) -> Applied {
        if !self.workers.contains_key(worker) {
            return Err(Refusal::Rejected(format!("unknown worker {worker}")));
        }
        let mut gone: BTreeSet<String> = BTreeSet::new();
        let mut changed = false;
        for d in digests {
            if self.blobs.forget(d, worker) {
                changed = true;
                if !self.blobs.is_held(d) {
                    gone.insert(d.to_string());
                }
            }
        }
        if !gone.is_empty() {
            self.cache
                .retain(|_, layers| !layers.iter().any(|l| gone.contains(&l.digest)));
        }
        if changed {
            Ok(())
        } else {
            Err(Refusal::Ignored(format!(
                "worker {worker} was not recorded as holding any of {} blobs",
                digests.len()
            )))
        }
    }

    pub(super) fn drain_worker(&mut self, worker: &WorkerId, drain: bool) -> Applied {
        let w = self
            .workers
            .get_mut(worker)
            .ok_or_else(|| Refusal::Rejected(format!("unknown worker {worker}")))?;
        if w.draining == drain {
            return Err(Refusal::Ignored(format!(
                "worker {worker} is already {}",
                if drain { "draining" } else { "not draining" }
            )));
        }
        w.draining = drain;
        Ok(())
    }
}
