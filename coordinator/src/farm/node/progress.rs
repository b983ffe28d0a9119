//! Progress fan-out on the leader: workers' progress reports go to every Watch stream of
//! their build through one broadcast channel per watched build. Progress is not Raft state:
//! a report with no watcher is dropped, and a lagging watcher skips reports.

use slipway_farm::BuildId;
use slipway_proto::v1::ProgressReport;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Reports buffered per build for a slow watcher before it starts skipping.
const CHANNEL_DEPTH: usize = 1024;

/// Broadcast channels keyed by build.
#[derive(Debug, Default)]
pub struct ProgressHub {
    channels: Mutex<HashMap<BuildId, broadcast::Sender<ProgressReport>>>,
}

impl ProgressHub {
    /// A receiver of every report of `build` published from now on.
    pub fn subscribe(&self, build: BuildId) -> broadcast::Receiver<ProgressReport> {
        let mut channels = match self.channels.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels
            .entry(build)
            .or_insert_with(|| broadcast::channel(CHANNEL_DEPTH).0)
            .subscribe()
    }

    /// Sends a report to the build's watchers; `false` when nobody watches it.
    pub fn publish(&self, build: BuildId, report: ProgressReport) -> bool {
        let mut channels = match self.channels.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(tx) = channels.get(&build) else {
            return false;
        };
        if tx.send(report).is_err() {
            channels.remove(&build);
            return false;
        }
        true
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
        let mut rx = hub.subscribe(a);
        assert!(hub.publish(a, report("1")));
        assert!(!hub.publish(b, report("2")));
        assert_eq!(rx.recv().await.unwrap().task_id, "1");
        drop(rx);
        assert!(!hub.publish(a, report("3")));
    }
}
