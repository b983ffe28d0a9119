//! The shared cache index as the workers use it: `LookupCache` answered from this node's
//! applied state (any coordinator answers: a hit is a hint the worker verifies when it
//! fetches the blobs), `RecordCache` and `ForgetBlobs` committed through Raft by the leader,
//! and `DrainWorker` for operators.

use super::error::NodeError;
use super::shared::{now_ms, Shared};
use super::views::worker_info;
use crate::farm::state::{Command, FarmState};
use slipway_proto::convert::cache::{cache_records, forgotten_blobs, query_keys};
use slipway_proto::convert::parse;
use slipway_proto::v1;

/// Keys one `LookupCache` may ask for (a task's whole graph fits many times over).
pub const MAX_LOOKUP_KEYS: usize = 4096;

/// The hits among `keys`, in query order (misses left out).
pub fn lookup(st: &FarmState, keys: &[String]) -> v1::CacheAnswer {
    v1::CacheAnswer {
        hits: keys
            .iter()
            .filter_map(|k| {
                st.cache_entry(k).map(|layers| v1::CacheHit {
                    key: k.clone(),
                    layers: layers.iter().cloned().map(Into::into).collect(),
                })
            })
            .collect(),
    }
}

pub fn lookup_local(s: &Shared, req: v1::CacheQuery) -> Result<v1::CacheAnswer, NodeError> {
    if req.keys.len() > MAX_LOOKUP_KEYS {
        return Err(NodeError::Config {
            what: "cache query",
            value: format!("{} keys", req.keys.len()),
            reason: format!("at most {MAX_LOOKUP_KEYS} keys per call"),
        });
    }
    let keys = query_keys(req)?;
    Ok(s.raft.read(|st| lookup(st, &keys)))
}

pub async fn record_local(s: &Shared, req: v1::CacheRecords) -> Result<v1::Ack, NodeError> {
    let (worker, records) = cache_records(req)?;
    if records.is_empty() {
        return Ok(v1::Ack {});
    }
    // Records already known are ignored, not an error.
    s.commit_lenient(Command::RecordCache {
        worker,
        records,
        at_ms: now_ms(),
    })
    .await?;
    Ok(v1::Ack {})
}

pub async fn forget_local(s: &Shared, req: v1::ForgottenBlobs) -> Result<v1::Ack, NodeError> {
    let (worker, digests) = forgotten_blobs(req)?;
    if digests.is_empty() {
        return Ok(v1::Ack {});
    }
    s.commit_lenient(Command::ForgetBlobs {
        worker,
        digests,
        at_ms: now_ms(),
    })
    .await?;
    Ok(v1::Ack {})
}

pub async fn drain_local(s: &Shared, req: v1::DrainRequest) -> Result<v1::WorkerInfo, NodeError> {
    let worker = parse::worker_id(&req.worker_id, ("DrainRequest", "worker_id"))?;
    if s.raft.read(|st| st.worker(&worker).is_none()) {
        return Err(NodeError::WorkerNotRegistered { worker });
    }
    // Already in the asked state: nothing to change, answer the worker as it is.
    s.commit_lenient(Command::DrainWorker {
        worker: worker.clone(),
        drain: req.drain,
        at_ms: now_ms(),
    })
    .await?;
    let now = now_ms();
    let leases = s.leases().clone();
    s.raft
        .read(|st| st.worker(&worker).map(|w| worker_info(w, &leases, now)))
        .ok_or(NodeError::WorkerNotRegistered { worker })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::state::test_support::worker_spec;
    use slipway_farm::cache::{CacheLayer, CacheRecord};
    use slipway_graph::Digest;

    #[test]
    fn lookup_answers_hits_in_query_order() {
        let mut st = FarmState::new();
        let spec = worker_spec("a", &["linux/amd64"], &[], 1);
        st.apply(Command::RegisterWorker { spec, at_ms: 1 });
        let key = |s: &str| Digest::of_bytes(s.as_bytes()).hex().to_string();
        let layer = CacheLayer {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: Digest::of_bytes(b"l").to_string(),
            size: 1,
            diff_id: Digest::of_bytes(b"d").to_string(),
        };
        let r = st.apply(Command::RecordCache {
            worker: "a".parse().unwrap(),
            records: vec![
                CacheRecord {
                    key: key("x"),
                    layers: vec![layer.clone()],
                },
                CacheRecord {
                    key: key("y"),
                    layers: vec![],
                },
            ],
            at_ms: 2,
        });
        assert!(r.is_ok());
        let a = lookup(&st, &[key("y"), key("miss"), key("x")]);
        let keys: Vec<_> = a.hits.iter().map(|h| h.key.clone()).collect();
        assert_eq!(keys, [key("y"), key("x")]);
        assert_eq!(a.hits[1].layers, vec![v1::CacheLayer::from(layer)]);
    }
}
