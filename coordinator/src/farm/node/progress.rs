//! Progress fan-out on the leader: workers' progress reports go to every Watch stream of
//! their build through one broadcast channel per build. Progress is not Raft state, but the
//! leader keeps the last reports of recent builds, so a watcher that subscribes late (a
//! client whose build finished before its Watch arrived, a second `builds watch`) is replayed
//! what it missed. A lagging watcher skips reports.

use slipway_farm::BuildId;
use slipway_proto::v1::ProgressReport;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Reports buffered per build for a slow watcher before it starts skipping.
const CHANNEL_DEPTH: usize = 1024;
/// Reports kept per build for late watchers (the oldest are dropped beyond).
const REPLAY_DEPTH: usize = 4096;
/// Builds whose reports are kept (the least recently reported are dropped beyond).
const REPLAY_BUILDS: usize = 64;

/// One build's channel and its recent reports.
#[derive(Debug)]
struct BuildProgress {
    tx: broadcast::Sender<ProgressReport>,
    recent: VecDeque<ProgressReport>,
    /// When the build last published (a counter, for dropping the oldest builds).
    touched: u64,
}

/// Broadcast channels keyed by build.
#[derive(Debug, Default)]
pub struct ProgressHub {
    inner: Mutex<Hub>,
}

#[derive(Debug, Default)]
struct Hub {
    builds: HashMap<BuildId, BuildProgress>,
    clock: u64,
}

impl Hub {
    fn entry(&mut self, build: BuildId) -> &mut BuildProgress {
        self.clock += 1;
        let clock = self.clock;
        if !self.builds.contains_key(&build) && self.builds.len() >= REPLAY_BUILDS {
            let oldest = self
                .builds
                .iter()
                .filter(|(_, b)| b.tx.receiver_count() == 0)
                .min_by_key(|(_, b)| b.touched)
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.builds.remove(&id);
            }
        }
        let b = self.builds.entry(build).or_insert_with(|| BuildProgress {
            tx: broadcast::channel(CHANNEL_DEPTH).0,
            recent: VecDeque::new(),
            touched: clock,
        });
        b.touched = clock;
        b
    }
}

impl ProgressHub {
    fn hub(&self) -> std::sync::MutexGuard<'_, Hub> {
        match self.inner.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The reports of `build` kept so far and a receiver of every later one (no report is
    /// in both, none is in neither).
    pub fn subscribe(
        &self,
        build: BuildId,
    ) -> (Vec<ProgressReport>, broadcast::Receiver<ProgressReport>) {
        let mut hub = self.hub();
        let b = hub.entry(build);
        (b.recent.iter().cloned().collect(), b.tx.subscribe())
    }

    /// Sends a report to the build's watchers and keeps it for later ones; `false` when
    /// nobody watches it now.
    pub fn publish(&self, build: BuildId, report: ProgressReport) -> bool {
        let mut hub = self.hub();
        let b = hub.entry(build);
        if b.recent.len() >= REPLAY_DEPTH {
            b.recent.pop_front();
        }
        b.recent.push_back(report.clone());
        b.tx.send(report).is_ok()
    }

    /// Forgets the reports of builds no longer kept.
    pub fn forget(&self, builds: &[BuildId]) {
        let mut hub = self.hub();
        for b in builds {
            hub.builds.remove(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_reach_only_watchers_of_their_build() {
        let hub = ProgressHub::default();
        let (a, b) = (BuildId::new(), BuildId::new());
        let report = |t: &str| ProgressReport {
            task_id: t.into(),
            worker_id: "w".into(),
            event_json: vec![],
        };
        assert!(!hub.publish(a, report("x")));
        let (missed, mut rx) = hub.subscribe(a);
        assert_eq!(missed.len(), 1, "a late watcher is replayed what it missed");
        assert_eq!(missed[0].task_id, "x");
        assert!(hub.publish(a, report("1")));
        assert!(!hub.publish(b, report("2")));
        assert_eq!(rx.recv().await.unwrap().task_id, "1");
        drop(rx);
        assert!(!hub.publish(a, report("3")));
        let (missed, _rx) = hub.subscribe(a);
        let ids: Vec<_> = missed.iter().map(|r| r.task_id.as_str()).collect();
        assert_eq!(ids, ["x", "1", "3"]);
        hub.forget(&[a]);
        assert!(hub.subscribe(a).0.is_empty());
    }

    #[test]
    fn only_recent_builds_are_kept() {
        let hub = ProgressHub::default();
        let report = ProgressReport {
            task_id: "t".into(),
            worker_id: "w".into(),
            event_json: vec![],
        };
        let first = BuildId::new();
        hub.publish(first, report.clone());
        for _ in 0..REPLAY_BUILDS {
            hub.publish(BuildId::new(), report.clone());
        }
        assert!(
            hub.subscribe(first).0.is_empty(),
            "the oldest build was dropped"
        );
    }
}
