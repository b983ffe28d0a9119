//! Disk usage and pruning across the farm (`slipway du|prune --builder`). The leader
//! keeps, in memory, the orders it owes each worker: each goes out with the worker's next
//! `Renew` answer, the worker runs it and answers with `GcDone`, and the waiting Control
//! call collects one result per worker. A worker that does not answer in time is reported
//! as such (its entry carries the error); a leader change drops the orders (the call ends
//! with those errors and the client may ask again).

use slipway_farm::WorkerId;
use slipway_proto::v1;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

struct Pending {
    order: v1::GcOrder,
    sent: bool,
    reply: oneshot::Sender<v1::GcResult>,
}

/// The orders owed to each worker.
#[derive(Default)]
pub struct GcOrders {
    pending: Mutex<HashMap<WorkerId, Vec<Pending>>>,
}

impl GcOrders {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WorkerId, Vec<Pending>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an order for `worker` (`prune: None` reports usage only); the receiver gets
    /// the worker's answer.
    pub fn issue(
        &self,
        worker: &WorkerId,
        prune: Option<v1::GcOptions>,
    ) -> (String, oneshot::Receiver<v1::GcResult>) {
        let id = uuid::Uuid::now_v7().to_string();
        let (reply, rx) = oneshot::channel();
        let order = v1::GcOrder {
            id: id.clone(),
            prune,
        };
        self.lock()
            .entry(worker.clone())
            .or_default()
            .push(Pending {
                order,
                sent: false,
                reply,
            });
        (id, rx)
    }

    /// The orders not yet handed to `worker` (each is handed out once).
    pub fn take_unsent(&self, worker: &WorkerId) -> Vec<v1::GcOrder> {
        let mut map = self.lock();
        let Some(list) = map.get_mut(worker) else {
            return Vec::new();
        };
        list.iter_mut()
            .filter(|p| !p.sent)
            .map(|p| {
                p.sent = true;
                p.order.clone()
            })
            .collect()
    }

    /// Delivers a worker's answer; false when no call waits for it (unknown or timed-out
    /// order, or one issued by an earlier leader).
    pub fn complete(&self, worker: &WorkerId, result: v1::GcResult) -> bool {
        let mut map = self.lock();
        let Some(list) = map.get_mut(worker) else {
            return false;
        };
        let Some(i) = list.iter().position(|p| p.order.id == result.order_id) else {
            return false;
        };
        let p = list.remove(i);
        if list.is_empty() {
            map.remove(worker);
        }
        p.reply.send(result).is_ok()
    }

    /// Forgets an order nobody waits for any more.
    pub fn abandon(&self, worker: &WorkerId, id: &str) {
        let mut map = self.lock();
        if let Some(list) = map.get_mut(worker) {
            list.retain(|p| p.order.id != id);
            if list.is_empty() {
                map.remove(worker);
            }
        }
    }

    /// Drops every order (this node stopped leading): waiting calls see their senders go.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Issues one order per worker and waits for every answer, at most `timeout` in all.
/// Answers come back in the order of `workers`; a missing one carries an error.
pub async fn round(
    orders: &GcOrders,
    workers: &[WorkerId],
    prune: Option<v1::GcOptions>,
    timeout: Duration,
) -> Vec<v1::GcResult> {
    let issued: Vec<(WorkerId, String, oneshot::Receiver<v1::GcResult>)> = workers
        .iter()
        .map(|w| {
            let (id, rx) = orders.issue(w, prune);
            (w.clone(), id, rx)
        })
        .collect();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Vec::with_capacity(issued.len());
    for (worker, id, rx) in issued {
        let answer = tokio::time::timeout_at(deadline, rx).await;
        let result = match answer {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => failed(&worker, &id, "the coordinator stopped leading; ask again"),
            Err(_) => {
                orders.abandon(&worker, &id);
                failed(
                    &worker,
                    &id,
                    &format!("no answer within {} s", timeout.as_secs()),
                )
            }
        };
        out.push(result);
    }
    out
}

fn failed(worker: &WorkerId, id: &str, error: &str) -> v1::GcResult {
    v1::GcResult {
        worker_id: worker.to_string(),
        order_id: id.to_string(),
        error: error.to_string(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wid(s: &str) -> WorkerId {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn orders_go_out_once_and_answers_reach_the_waiting_call() {
        let orders = std::sync::Arc::new(GcOrders::default());
        let (a, b) = (wid("a"), wid("b"));
        let o = orders.clone();
        let (a2, b2) = (a.clone(), b.clone());
        let call =
            tokio::spawn(
                async move { round(&o, &[a2, b2], None, Duration::from_millis(500)).await },
            );
        // Wait until both orders are queued.
        let mut sent_a = Vec::new();
        for _ in 0..100 {
            sent_a = orders.take_unsent(&a);
            if !sent_a.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(sent_a.len(), 1);
        assert!(sent_a[0].prune.is_none());
        assert!(orders.take_unsent(&a).is_empty(), "handed out once");
        assert!(orders.complete(
            &a,
            v1::GcResult {
                worker_id: "a".into(),
                order_id: sent_a[0].id.clone(),
                bytes: 42,
                ..Default::default()
            }
        ));
        assert!(!orders.complete(
            &a,
            v1::GcResult {
                order_id: "unknown".into(),
                ..Default::default()
            }
        ));
        // b never answers.
        let results = call.await.unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].bytes, 42);
        assert!(results[0].error.is_empty());
        assert_eq!(results[1].worker_id, "b");
        assert!(
            results[1].error.contains("no answer"),
            "{}",
            results[1].error
        );
        assert!(orders.take_unsent(&b).is_empty(), "the late order is gone");
    }
}
