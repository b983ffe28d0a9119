//! [`StageInputs`]: the results of the stage tasks a task depends on, as the first remote
//! cache of its solve. The leader sends their cache records with the assignment; a lookup
//! answers from those records only (no RPC), and a fetch downloads the blob from the peer
//! holding it, like the farm cache does. The solve consults it even with `--no-cache`:
//! these are this build's own results, which BuildKit too computes once per build.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use slipway_farm::cache::{CacheLayer, CacheRecord};
use slipway_oci::ContentStore;

use slipway_worker::remote::{RemoteCache, RemoteCacheError};

/// The stage results one task takes over, by cache key.
pub struct StageInputs {
    records: HashMap<String, Vec<CacheLayer>>,
    /// What the records are, for messages.
    label: String,
    /// Fetches blobs from the workers holding them.
    peers: Arc<dyn RemoteCache>,
}

impl StageInputs {
    /// `records` by key (the first record of a key wins); blobs come through `peers`.
    pub fn new(records: Vec<CacheRecord>, peers: Arc<dyn RemoteCache>) -> StageInputs {
        StageInputs::labelled(
            "results of this build's stage tasks".to_string(),
            records,
            peers,
        )
    }

    /// Records of a client's `--cache-from type=local` (`origin`) brought to the farm for
    /// this build, their blobs on a worker's data plane. Not pinned: `--no-cache` skips it.
    pub fn imported(
        origin: &str,
        records: Vec<CacheRecord>,
        peers: Arc<dyn RemoteCache>,
    ) -> StageInputs {
        StageInputs::labelled(format!("the local cache {origin}"), records, peers)
    }

    fn labelled(
        label: String,
        records: Vec<CacheRecord>,
        peers: Arc<dyn RemoteCache>,
    ) -> StageInputs {
        let mut by_key = HashMap::with_capacity(records.len());
        for r in records {
            by_key.entry(r.key).or_insert(r.layers);
        }
        StageInputs {
            records: by_key,
            label,
            peers,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl fmt::Debug for StageInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageInputs")
            .field("records", &self.records.len())
            .finish()
    }
}

impl RemoteCache for StageInputs {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn lookup<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<CacheLayer>>, RemoteCacheError>> {
        Box::pin(async move { Ok(self.records.get(key).cloned()) })
    }

    fn fetch<'a>(
        &'a self,
        layer: &'a CacheLayer,
        store: &'a ContentStore,
        tmp: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteCacheError>> {
        self.peers.fetch(layer, store, tmp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Peers {
        fetched: Mutex<Vec<String>>,
    }

    impl RemoteCache for Peers {
        fn describe(&self) -> String {
            "peers".into()
        }
        fn lookup<'a>(
            &'a self,
            _key: &'a str,
        ) -> BoxFuture<'a, Result<Option<Vec<CacheLayer>>, RemoteCacheError>> {
            panic!("stage inputs never look up through the peers")
        }
        fn fetch<'a>(
            &'a self,
            layer: &'a CacheLayer,
            _store: &'a ContentStore,
            _tmp: &'a Path,
        ) -> BoxFuture<'a, Result<(), RemoteCacheError>> {
            self.fetched.lock().unwrap().push(layer.digest.clone());
            Box::pin(async { Ok(()) })
        }
    }

    fn layer(name: &str) -> CacheLayer {
        CacheLayer {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: format!("sha256:{}", name.repeat(64)),
            size: 1,
            diff_id: format!("sha256:{}", "d".repeat(64)),
        }
    }

    #[tokio::test]
    async fn answers_from_its_records_and_fetches_through_the_peers() {
        let peers = Arc::new(Peers::default());
        let inputs = StageInputs::new(
            vec![
                CacheRecord {
                    key: "a".repeat(64),
                    layers: vec![layer("1")],
                },
                CacheRecord {
                    key: "a".repeat(64),
                    layers: vec![layer("2")],
                },
            ],
            peers.clone(),
        );
        assert!(!inputs.is_empty());
        let hit = inputs.lookup(&"a".repeat(64)).await.unwrap().unwrap();
        assert_eq!(hit, vec![layer("1")], "the first record of a key wins");
        assert_eq!(inputs.lookup(&"b".repeat(64)).await.unwrap(), None);
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path().join("store")).unwrap();
        inputs.fetch(&hit[0], &store, dir.path()).await.unwrap();
        assert_eq!(*peers.fetched.lock().unwrap(), vec![layer("1").digest]);
    }
}
