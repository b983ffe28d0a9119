//! [`FarmCache`]: the farm's shared cache index as a [`RemoteCache`] of one task's solve.
//! A lookup asks a coordinator (`LookupCache`, answered from its applied state: a hint);
//! a fetch finds the peers holding the blob (`FindBlob`), downloads it over the data plane
//! into the solve's temporary directory and ingests it into the content store, verified.
//! Misses are remembered for the task (a key missed once is not asked again).

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use slipway_dataplane::BlobClient;
use slipway_graph::Digest;
use slipway_oci::ContentStore;
use slipway_proto::v1::{BlobRef, CacheQuery};
use slipway_tls::Security;
use tokio_util::sync::CancellationToken;

use super::coordinators::Coordinators;
use super::error::AgentError;
use slipway_worker::remote::{CacheLayer, RemoteCache, RemoteCacheError};

/// How long one index lookup or blob location query may take (retries included) before
/// the solve goes on without the farm cache for that key.
const RPC_BUDGET: Duration = Duration::from_secs(15);

const ORIGIN: &str = "farm cache index";

/// The farm's shared cache index for one task.
pub struct FarmCache {
    coordinators: Arc<Coordinators>,
    security: Security,
    /// This worker's data-plane address (never fetched from).
    own_addr: String,
    cancel: CancellationToken,
    misses: Mutex<HashSet<String>>,
    /// Bytes downloaded from peers by this task.
    fetched: AtomicU64,
}

impl fmt::Debug for FarmCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FarmCache")
            .field("own_addr", &self.own_addr)
            .field("fetched", &self.fetched.load(Ordering::Relaxed))
            .finish()
    }
}

fn transport(reason: String) -> RemoteCacheError {
    RemoteCacheError::Transport {
        origin: ORIGIN.to_string(),
        reason,
    }
}

impl FarmCache {
    pub fn new(
        coordinators: Arc<Coordinators>,
        security: Security,
        own_addr: String,
        cancel: CancellationToken,
    ) -> FarmCache {
        FarmCache {
            coordinators,
            security,
            own_addr,
            cancel,
            misses: Mutex::default(),
            fetched: AtomicU64::new(0),
        }
    }

    /// Bytes this task downloaded from peers.
    pub fn fetched_bytes(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    fn missed(&self, key: &str) -> bool {
        self.misses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    }

    fn remember_miss(&self, key: &str) {
        self.misses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string());
    }

    async fn lookup_key(&self, key: &str) -> Result<Option<Vec<CacheLayer>>, RemoteCacheError> {
        if self.missed(key) {
            return Ok(None);
        }
        let query = CacheQuery {
            keys: vec![key.to_string()],
        };
        let call = self
            .coordinators
            .call("LookupCache", &self.cancel, |mut c| {
                let q = query.clone();
                async move { c.lookup_cache(q).await }
            });
        let answer = match tokio::time::timeout(RPC_BUDGET, call).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return Err(transport(format!("looking up {key}: {e}"))),
            Err(_) => {
                return Err(transport(format!(
                    "looking up {key}: no coordinator answered within {RPC_BUDGET:?}"
                )))
            }
        };
        let Some(hit) = answer.hits.into_iter().find(|h| h.key == key) else {
            self.remember_miss(key);
            return Ok(None);
        };
        slipway_proto::convert::cache::layers(hit.layers)
            .map(Some)
            .map_err(|e| RemoteCacheError::Format {
                origin: ORIGIN.to_string(),
                reason: e.to_string(),
            })
    }

    async fn fetch_layer(
        &self,
        layer: &CacheLayer,
        store: &ContentStore,
        tmp: &Path,
    ) -> Result<(), RemoteCacheError> {
        let unavailable = |reason: String| RemoteCacheError::BlobUnavailable {
            origin: ORIGIN.to_string(),
            digest: layer.digest.clone(),
            reason,
        };
        let digest: Digest = layer
            .digest
            .parse()
            .map_err(|e| unavailable(format!("not a digest: {e}")))?;
        let oci_digest: slipway_oci::Digest = layer
            .digest
            .parse()
            .map_err(|e| unavailable(format!("not a digest: {e}")))?;
        if store.exists(&oci_digest) {
            return Ok(());
        }
        let request = BlobRef {
            digest: layer.digest.clone(),
        };
        let call = self.coordinators.call("FindBlob", &self.cancel, |mut c| {
            let r = request.clone();
            async move { c.find_blob(r).await }
        });
        let found = match tokio::time::timeout(RPC_BUDGET, call).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return Err(unavailable(format!("locating it: {e}"))),
            Err(_) => return Err(unavailable("locating it: no coordinator answered".into())),
        };
        let mut tried = Vec::new();
        for addr in found.data_addrs.iter().filter(|a| **a != self.own_addr) {
            match self.download(addr, &digest, &oci_digest, store, tmp).await {
                Ok(bytes) => {
                    self.fetched.fetch_add(bytes, Ordering::Relaxed);
                    tracing::info!(digest = %layer.digest, bytes, peer = %addr,
                        "cache blob fetched from a peer");
                    return Ok(());
                }
                Err(AgentError::Cancelled) => return Err(unavailable("cancelled".into())),
                Err(e) => {
                    tracing::warn!(digest = %layer.digest, peer = %addr, error = %e,
                        "fetching a cache blob");
                    tried.push(format!("{addr}: {e}"));
                }
            }
        }
        Err(unavailable(if tried.is_empty() {
            "no live worker holds it".to_string()
        } else {
            format!("every holder failed ({})", tried.join("; "))
        }))
    }

    /// Downloads the blob from `addr` into `tmp`, then into the store (digest verified).
    async fn download(
        &self,
        addr: &str,
        digest: &Digest,
        oci_digest: &slipway_oci::Digest,
        store: &ContentStore,
        tmp: &Path,
    ) -> Result<u64, AgentError> {
        let dataplane_err = |source| AgentError::DataPlane {
            addr: addr.to_string(),
            source: Box::new(source),
        };
        let file = tempfile::Builder::new()
            .prefix("farm-cache-")
            .tempfile_in(tmp)
            .map_err(AgentError::io("creating a download file in", tmp))?
            .into_temp_path();
        let path = file.to_path_buf();
        let transfer = async {
            let client = BlobClient::connect(addr, &self.security)
                .await
                .map_err(dataplane_err)?;
            client.get(digest, &path).await.map_err(dataplane_err)
        };
        tokio::select! {
            r = transfer => { r?; }
            _ = self.cancel.cancelled() => return Err(AgentError::Cancelled),
        }
        let bytes = std::fs::metadata(&path)
            .map_err(AgentError::io("reading the size of", &path))?
            .len();
        let store_err = |e: slipway_oci::StoreError| AgentError::Io {
            op: "ingesting into the content store",
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        };
        let mut writer = store.writer().map_err(store_err)?;
        let expected = *oci_digest;
        let src = path.clone();
        let ingested = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::open(&src)?;
            std::io::copy(&mut f, &mut writer)?;
            Ok::<_, std::io::Error>(writer.commit(Some(&expected)))
        })
        .await
        .map_err(|e| AgentError::Io {
            op: "ingesting (task failed)",
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(AgentError::io("copying into the content store", &path))?;
        ingested.map_err(store_err)?;
        drop(file);
        Ok(bytes)
    }
}

impl RemoteCache for FarmCache {
    fn describe(&self) -> String {
        ORIGIN.to_string()
    }

    fn lookup<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<CacheLayer>>, RemoteCacheError>> {
        Box::pin(self.lookup_key(key))
    }

    fn fetch<'a>(
        &'a self,
        layer: &'a CacheLayer,
        store: &'a ContentStore,
        tmp: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteCacheError>> {
        Box::pin(self.fetch_layer(layer, store, tmp))
    }
}
