//! One round of placement over a [`ScheduleInput`], one [`Decision`] at a time.
//!
//! Order of preference for a task: a native worker when one has a free slot, else an
//! emulating one; within that tier the worker holding most of the task's affinity digests;
//! then the least loaded (running / slots); then the first in input order. Builds take
//! turns (round-robin, oldest first): each turn places the build's next placeable task.
//!
//! Costs: free slots are counted per platform, so a task whose platform has no free
//! capable worker is skipped in O(1) (and skipped for good in this round: slots only fill
//! up); choosing a worker scans the platform's workers of one tier once, plus the holders
//! of the task's affinity digests.

use super::input::{QueuedTask, ScheduleInput};
use super::Decision;
use slipway_farm::{Placement, TaskId};
use std::collections::btree_map::Values;
use std::collections::VecDeque;

/// Yields the decisions of one scheduling round; `schedule` collects them.
pub struct Placer<'a> {
    input: &'a ScheduleInput,
    now_ms: u64,
    running: Vec<u32>,
    /// Per platform: free slots on workers running it natively / at all.
    free_native: Vec<u64>,
    free_any: Vec<u64>,
    free_total: u64,
    unplaceable: VecDeque<Decision>,
    ring: VecDeque<Values<'a, TaskId, QueuedTask>>,
    /// Per worker affinity hits of the current task (zeroed after each use).
    hits: Vec<u32>,
    touched: Vec<usize>,
}

impl<'a> Placer<'a> {
    pub fn new(input: &'a ScheduleInput, now_ms: u64) -> Placer<'a> {
        let workers = &input.workers;
        let running: Vec<u32> = workers.iter().map(|w| w.load.running).collect();
        let mut free_native = vec![0u64; input.platforms.len()];
        let mut free_any = vec![0u64; input.platforms.len()];
        let mut free_total = 0u64;
        for w in workers {
            let free = u64::from(w.load.slots.saturating_sub(w.load.running));
            if free == 0 {
                continue;
            }
            free_total += free;
            for &(p, placement) in &w.supports {
                if let Some(f) = free_any.get_mut(p) {
                    *f += free;
                }
                if placement == Placement::Native {
                    if let Some(f) = free_native.get_mut(p) {
                        *f += free;
                    }
                }
            }
        }
        let mut unplaceable = VecDeque::new();
        let orphan = |q: &QueuedTask| {
            input
                .platforms
                .get(q.platform)
                .is_none_or(|p| p.native.is_empty() && p.emulated.is_empty())
        };
        let any_orphan = input
            .platforms
            .iter()
            .any(|p| p.queued > 0 && p.native.is_empty() && p.emulated.is_empty());
        if any_orphan {
            for q in input.queues.values().flat_map(|q| q.values()) {
                if orphan(q) {
                    unplaceable.push_back(Decision::Unplaceable {
                        task: q.task.id,
                        platform: q.task.platform.clone(),
                        message: format!("no worker runs platform {}", q.task.platform),
                    });
                }
            }
        }
        let ring = input.queues.values().map(|q| q.values()).collect();
        Placer {
            input,
            now_ms,
            running,
            free_native,
            free_any,
            free_total,
            unplaceable,
            ring,
            hits: vec![0; workers.len()],
            touched: Vec::new(),
        }
    }

    fn free(&self, w: usize) -> bool {
        match (self.input.workers.get(w), self.running.get(w)) {
            (Some(e), Some(&r)) => r < e.load.slots,
            _ => false,
        }
    }

    /// True when `a` is less loaded than `b` (running / slots, compared exactly).
    fn less_loaded(&self, a: usize, b: usize) -> bool {
        let load = |w: usize| {
            let r = u64::from(self.running.get(w).copied().unwrap_or(u32::MAX));
            let s = u64::from(self.input.workers.get(w).map_or(1, |e| e.load.slots.max(1)));
            (r, s)
        };
        let ((ra, sa), (rb, sb)) = (load(a), load(b));
        ra * sb < rb * sa
    }

    /// The best worker for a task of platform `p`, or `None` when no capable worker has a
    /// free slot.
    fn choose(&mut self, p: usize, task: &QueuedTask) -> Option<(usize, Placement)> {
        let tier = if self.free_native.get(p).is_some_and(|&f| f > 0) {
            Placement::Native
        } else if self.free_any.get(p).is_some_and(|&f| f > 0) {
            Placement::Emulated
        } else {
            return None;
        };
        let input = self.input;
        let entry = input.platforms.get(p)?;
        let list = match tier {
            Placement::Native => &entry.native,
            Placement::Emulated => &entry.emulated,
        };
        // Affinity: count the task's digests each free worker of the tier holds.
        for d in &task.task.affinity {
            for &w in input.holders.get(d).into_iter().flatten() {
                let in_tier = input
                    .workers
                    .get(w)
                    .is_some_and(|e| e.placement(p) == Some(tier));
                if in_tier && self.free(w) {
                    if let Some(h) = self.hits.get_mut(w) {
                        if *h == 0 {
                            self.touched.push(w);
                        }
                        *h += 1;
                    }
                }
            }
        }
        let mut best: Option<usize> = None;
        let mut best_hits = 0;
        for &w in &self.touched {
            let h = self.hits.get(w).copied().unwrap_or(0);
            let better = match best {
                None => true,
                Some(b) => {
                    h > best_hits
                        || (h == best_hits
                            && (self.less_loaded(w, b) || (!self.less_loaded(b, w) && w < b)))
                }
            };
            if better {
                best = Some(w);
                best_hits = h;
            }
        }
        for &w in &self.touched {
            if let Some(h) = self.hits.get_mut(w) {
                *h = 0;
            }
        }
        self.touched.clear();
        if best.is_none() {
            for &w in list {
                if self.free(w) && best.is_none_or(|b| self.less_loaded(w, b)) {
                    best = Some(w);
                }
            }
        }
        best.map(|w| (w, tier))
    }

    fn take_slot(&mut self, w: usize) {
        if let Some(r) = self.running.get_mut(w) {
            *r += 1;
        }
        self.free_total = self.free_total.saturating_sub(1);
        let Some(entry) = self.input.workers.get(w) else {
            return;
        };
        for &(p, placement) in &entry.supports {
            if let Some(f) = self.free_any.get_mut(p) {
                *f = f.saturating_sub(1);
            }
            if placement == Placement::Native {
                if let Some(f) = self.free_native.get_mut(p) {
                    *f = f.saturating_sub(1);
                }
            }
        }
    }
}

impl Iterator for Placer<'_> {
    type Item = Decision;

    fn next(&mut self) -> Option<Decision> {
        if let Some(d) = self.unplaceable.pop_front() {
            return Some(d);
        }
        while self.free_total > 0 {
            let mut build = self.ring.pop_front()?;
            while let Some(q) = build.next() {
                if q.task.not_before_ms > self.now_ms
                    || self.free_any.get(q.platform).is_none_or(|&f| f == 0)
                {
                    continue;
                }
                let Some((w, placement)) = self.choose(q.platform, q) else {
                    continue;
                };
                let Some(worker) = self.input.workers.get(w).map(|e| e.load.id.clone()) else {
                    continue;
                };
                self.take_slot(w);
                self.ring.push_back(build);
                return Some(Decision::Assign {
                    task: q.task.id,
                    worker,
                    placement,
                });
            }
        }
        None
    }
}
