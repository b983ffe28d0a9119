//! Context blobs: the worker's data plane (a QUIC blob server over its content store, so
//! clients upload context tars here and peers fetch them), and getting a context tar that
//! another worker holds.
//!
//! The data plane serves `<data_dir>/content` — the content store's own
//! `blobs/sha256/<hex>` layout — so an uploaded tar is a content-store blob at once and a
//! fetched one is renamed into place after the transfer verified its digest. Downloads
//! go to `<data_dir>/agent/downloads/<hex>` first (kept across restarts, so a broken
//! transfer resumes from the bytes already there).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use slipway_dataplane::{BlobClient, BlobServer, BlobStoreDir};
use slipway_farm::{TaskId, WorkerId};
use slipway_graph::Digest;
use slipway_oci::ContentStore;
use slipway_proto::v1::{BlobLocation, BlobRef};
use slipway_tls::Security;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::{AgentConfig, AgentTimings, Backoff};
use super::coordinators::{sleep, Coordinators};
use super::error::{AgentError, TaskError};
use slipway_worker::Worker;

/// The running data plane.
pub struct DataPlane {
    /// `host:port` registered for this worker.
    pub advertise: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl DataPlane {
    /// Binds the blob server on `config.data_listen` over the worker's content store;
    /// also returns the feed of digests that peers or clients upload.
    pub async fn start(
        config: &AgentConfig,
        worker: &Worker,
        stop: CancellationToken,
    ) -> Result<(DataPlane, mpsc::Receiver<Digest>), AgentError> {
        let root = worker.store().root().to_path_buf();
        let listen = config.data_listen.to_string();
        let dataplane_err = |source| AgentError::DataPlane {
            addr: listen.clone(),
            source: Box::new(source),
        };
        let dir = BlobStoreDir::open(&root).map_err(dataplane_err)?;
        let server = BlobServer::bind(config.data_listen, &config.security, dir)
            .await
            .map_err(dataplane_err)?;
        let bound = server.local_addr();
        let advertise = if config.data_advertise.is_empty() {
            let ip = if bound.ip().is_unspecified() {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                bound.ip()
            };
            std::net::SocketAddr::new(ip, bound.port()).to_string()
        } else {
            config.data_advertise.clone()
        };
        let (tx, received) = mpsc::channel(1024);
        let mut uploads = server.received();
        let stop_serving = stop.clone();
        let task = tokio::spawn(async move {
            let forward = async {
                while let Some(digest) = uploads.recv().await {
                    if let Ok(d) = digest.to_string().parse::<Digest>() {
                        if tx.send(d).await.is_err() {
                            break;
                        }
                    }
                }
            };
            tokio::select! {
                r = server.serve() => {
                    if let Err(e) = r {
                        tracing::error!(error = %e, "the data plane stopped");
                    }
                }
                _ = forward => {}
                _ = stop_serving.cancelled() => {}
            }
            server.shutdown();
        });
        tracing::info!(listen = %bound, %advertise, "data plane listening");
        Ok((
            DataPlane {
                advertise,
                stop,
                task,
            },
            received,
        ))
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Finds context tars locally or on peers.
pub struct ContextBlobs {
    store: Arc<ContentStore>,
    downloads: PathBuf,
    security: Security,
    coordinators: Arc<Coordinators>,
    worker_id: WorkerId,
    own_addr: String,
    timings: AgentTimings,
    /// One fetch per digest at a time.
    fetching: std::sync::Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

impl ContextBlobs {
    pub fn new(
        worker: &Worker,
        security: Security,
        coordinators: Arc<Coordinators>,
        worker_id: WorkerId,
        own_addr: String,
        timings: AgentTimings,
    ) -> ContextBlobs {
        ContextBlobs {
            store: worker.store().clone(),
            downloads: worker.data_dir().join("agent").join("downloads"),
            security,
            coordinators,
            worker_id,
            own_addr,
            timings,
            fetching: Default::default(),
        }
    }

    fn local_path(&self, digest: &Digest) -> Result<PathBuf, slipway_oci::DigestError> {
        let d: slipway_oci::Digest = digest.as_str().parse()?;
        Ok(self.store.blob_path(&d))
    }

    /// The path of the blob `digest` in the content store, fetched from a peer first when
    /// this worker does not hold it.
    pub async fn ensure(
        &self,
        task: TaskId,
        digest: &Digest,
        cancel: &CancellationToken,
    ) -> Result<PathBuf, TaskError> {
        let local = self.local_path(digest).map_err(|_| TaskError::Digest {
            task,
            what: "context",
            value: digest.to_string(),
        })?;
        if local.is_file() {
            return Ok(local);
        }
        let lock = {
            let mut map = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(digest.clone()).or_default().clone()
        };
        let held = lock.lock().await;
        let fetched = if local.is_file() {
            Ok(local)
        } else {
            self.fetch(task, digest, local, cancel).await
        };
        drop(held);
        // Later callers find the blob in place (or start a new lock after a failure).
        let mut map = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(digest).is_some_and(|l| Arc::ptr_eq(l, &lock)) {
            map.remove(digest);
        }
        fetched
    }

    /// Looks the blob up and downloads it from the first peer that has it.
    async fn fetch(
        &self,
        task: TaskId,
        digest: &Digest,
        local: PathBuf,
        cancel: &CancellationToken,
    ) -> Result<PathBuf, TaskError> {
        let agent = |source| TaskError::Agent { task, source };
        let mut backoff = Backoff::new(&self.timings);
        let mut tried = Vec::new();
        for lookup in 0..self.timings.blob_lookups.max(1) {
            if lookup > 0 {
                let wait = backoff
                    .next_wait()
                    .max(std::time::Duration::from_millis(200));
                sleep(wait, cancel).await.map_err(agent)?;
            }
            let request = BlobRef {
                digest: digest.to_string(),
            };
            let found = self
                .coordinators
                .call("FindBlob", cancel, |mut c| {
                    let r = request.clone();
                    async move { c.find_blob(r).await }
                })
                .await
                .map_err(agent)?;
            for addr in found.data_addrs.iter().filter(|a| **a != self.own_addr) {
                match self.fetch_from(addr, digest, &local, cancel).await {
                    Ok(()) => {
                        tracing::info!(%task, %digest, peer = %addr, "context fetched from a peer");
                        self.record(digest, cancel).await;
                        return Ok(local);
                    }
                    Err(AgentError::Cancelled) => return Err(agent(AgentError::Cancelled)),
                    Err(e) => {
                        tracing::warn!(%task, %digest, peer = %addr, error = %e, "fetching the context");
                        tried.push(format!("{addr}: {e}"));
                    }
                }
            }
            if local.is_file() {
                // uploaded here meanwhile
                return Ok(local);
            }
        }
        Err(TaskError::ContextNotFound {
            task,
            digest: digest.to_string(),
            tried,
        })
    }

    async fn fetch_from(
        &self,
        addr: &str,
        digest: &Digest,
        local: &std::path::Path,
        cancel: &CancellationToken,
    ) -> Result<(), AgentError> {
        let dataplane_err = |source| AgentError::DataPlane {
            addr: addr.to_string(),
            source: Box::new(source),
        };
        std::fs::create_dir_all(&self.downloads)
            .map_err(AgentError::io("creating", &self.downloads))?;
        // The client keeps `<download>.partial` across failures and resumes from it.
        let download = self.downloads.join(digest.hex());
        let transfer = async {
            let client = BlobClient::connect(addr, &self.security)
                .await
                .map_err(dataplane_err)?;
            client.get(digest, &download).await.map_err(dataplane_err)
        };
        tokio::select! {
            r = transfer => { r?; }
            _ = cancel.cancelled() => return Err(AgentError::Cancelled),
        }
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent).map_err(AgentError::io("creating", parent))?;
        }
        std::fs::rename(&download, local).map_err(AgentError::io("moving into place", local))?;
        Ok(())
    }

    /// Tells the coordinators this worker holds `digest` (best effort).
    async fn record(&self, digest: &Digest, cancel: &CancellationToken) {
        let request = BlobLocation {
            digest: digest.to_string(),
            worker_id: self.worker_id.to_string(),
        };
        let recorded = self
            .coordinators
            .call("RecordBlob", cancel, |mut c| {
                let r = request.clone();
                async move { c.record_blob(r).await }
            })
            .await;
        match recorded {
            Ok(_) | Err(AgentError::Cancelled) => {}
            Err(e) => tracing::warn!(%digest, error = %e, "recording a blob location"),
        }
    }

    /// The content store that the data plane serves (context manifests and their file
    /// blobs land here).
    pub(super) fn store(&self) -> &Arc<ContentStore> {
        &self.store
    }

    /// Where downloads are staged before they move into the store.
    pub(super) fn downloads_dir(&self) -> &std::path::Path {
        &self.downloads
    }

    pub(super) fn security(&self) -> &Security {
        &self.security
    }

    /// The data-plane addresses of the other live workers recorded as holding `digest`.
    pub(super) async fn holders(
        &self,
        digest: &Digest,
        cancel: &CancellationToken,
    ) -> Result<Vec<String>, AgentError> {
        let request = BlobRef {
            digest: digest.to_string(),
        };
        let found = self
            .coordinators
            .call("FindBlob", cancel, |mut c| {
                let r = request.clone();
                async move { c.find_blob(r).await }
            })
            .await?;
        Ok(found
            .data_addrs
            .into_iter()
            .filter(|a| *a != self.own_addr)
            .collect())
    }

    /// Records every blob the data plane receives until `cancel` fires.
    pub async fn record_received(
        self: Arc<Self>,
        mut received: mpsc::Receiver<Digest>,
        cancel: CancellationToken,
    ) {
        loop {
            let digest = tokio::select! {
                d = received.recv() => match d {
                    Some(d) => d,
                    None => return,
                },
                _ = cancel.cancelled() => return,
            };
            tracing::debug!(%digest, "blob received on the data plane");
            self.record(&digest, &cancel).await;
        }
    }
}
