//! The blob server: a quinn endpoint answering has/get/put streams over a [`BlobStoreDir`].

use crate::error::{DataPlaneError, RemoteErrorKind};
use crate::protocol::{read_line, write_line, Request, Response, MAX_BATCH};
use crate::stats::{StatsCounter, TransferStats};
use crate::store::BlobStoreDir;
use crate::transport::server_endpoint;
use slipway_oci::digest::Digester;
use slipway_oci::Digest;
use slipway_tls::Security;
use std::io::{self, SeekFrom};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};

/// How long a new stream may take to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the peer to acknowledge the end of an answer.
const FINISH_TIMEOUT: Duration = Duration::from_secs(30);
const CHUNK: usize = 256 * 1024;

/// A running blob server. It serves from [`bind`](BlobServer::bind) until
/// [`shutdown`](BlobServer::shutdown) or drop.
pub struct BlobServer {
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
    stopped: watch::Receiver<bool>,
}

struct Shared {
    store: BlobStoreDir,
    stats: StatsCounter,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Digest>>>,
}

impl BlobServer {
    /// Binds a QUIC endpoint on `addr` (port 0 picks one: see [`local_addr`](Self::local_addr))
    /// and starts serving `store`. Must run inside a tokio runtime.
    pub async fn bind(
        addr: SocketAddr,
        security: &Security,
        store: BlobStoreDir,
    ) -> Result<BlobServer, DataPlaneError> {
        let endpoint = server_endpoint(addr, security)?;
        let bound = endpoint
            .local_addr()
            .map_err(|source| DataPlaneError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            store,
            stats: StatsCounter::default(),
            subscribers: Mutex::new(Vec::new()),
        });
        let (done, stopped) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(endpoint.clone(), shared.clone(), done));
        tracing::debug!(addr = %bound, "blob server listening");
        Ok(BlobServer {
            endpoint,
            addr: bound,
            shared,
            accept,
            stopped,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &BlobStoreDir {
        &self.shared.store
    }

    /// Bytes and blobs moved so far.
    pub fn stats(&self) -> TransferStats {
        self.shared.stats.snapshot()
    }

    /// A feed of the digests of verified uploads, from now on. Any number of subscribers.
    pub fn received(&self) -> mpsc::UnboundedReceiver<Digest> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.shared.subscribers).push(tx);
        rx
    }

    /// Waits until the server stops ([`shutdown`](Self::shutdown)); an error if its accept
    /// loop died otherwise.
    pub async fn serve(&self) -> Result<(), DataPlaneError> {
        let mut stopped = self.stopped.clone();
        let outcome = stopped.wait_for(|s| *s).await.map(|_| ());
        outcome.map_err(|_| DataPlaneError::ServerStopped { addr: self.addr })
    }

    /// Closes the endpoint: open transfers are aborted, new connections refused.
    pub fn shutdown(&self) {
        self.endpoint.close(quinn::VarInt::from_u32(0), b"shutdown");
    }
}

impl Drop for BlobServer {
    fn drop(&mut self) {
        self.shutdown();
        self.accept.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept_loop(endpoint: quinn::Endpoint, shared: Arc<Shared>, done: watch::Sender<bool>) {
    while let Some(incoming) = endpoint.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let peer = incoming.remote_address();
            match incoming.await {
                Ok(connection) => serve_connection(connection, shared).await,
                Err(e) => tracing::debug!(%peer, error = %e, "data-plane handshake failed"),
            }
        });
    }
    let _ = done.send(true);
}

async fn serve_connection(connection: quinn::Connection, shared: Arc<Shared>) {
    let peer = connection.remote_address();
    loop {
        match connection.accept_bi().await {
            Ok((send, recv)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_stream(send, recv, &shared).await {
                        tracing::debug!(%peer, error = %e, "data-plane stream ended with an error");
                    }
                });
            }
            Err(e) => {
                tracing::debug!(%peer, reason = %e, "data-plane connection closed");
                return;
            }
        }
    }
}

async fn serve_stream(
    mut send: quinn::SendStream,
    recv: quinn::RecvStream,
    shared: &Shared,
) -> io::Result<()> {
    let mut recv = BufReader::with_capacity(CHUNK, recv);
    let request =
        match tokio::time::timeout(REQUEST_TIMEOUT, read_line::<_, Request>(&mut recv)).await {
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "no request line")),
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(request))) => request,
            Ok(Err(e)) => {
                let answer = Response::error(RemoteErrorKind::BadRequest, e.to_string());
                write_line(&mut send, &answer).await?;
                return finish(send).await;
            }
        };
    match request {
        Request::Has { digest } => {
            let answer = match tokio::fs::metadata(shared.store.blob_path(&digest)).await {
                Ok(meta) if meta.is_file() => Response::Present { size: meta.len() },
                _ => Response::Absent,
            };
            write_line(&mut send, &answer).await?;
        }
        Request::Get { digest, offset } => send_blob(&mut send, shared, digest, offset).await?,
        Request::Put {
            digest,
            size,
            announce,
        } => receive_blob(&mut send, recv, shared, digest, size, announce).await?,
        Request::Missing { digests } => {
            let answer = if digests.len() > MAX_BATCH {
                Response::error(
                    RemoteErrorKind::BadRequest,
                    format!("more than {MAX_BATCH} digests in one request"),
                )
            } else {
                let mut missing = Vec::new();
                for digest in digests {
                    match tokio::fs::metadata(shared.store.blob_path(&digest)).await {
                        Ok(meta) if meta.is_file() => {}
                        _ => missing.push(digest),
                    }
                }
                Response::Missing { digests: missing }
            };
            write_line(&mut send, &answer).await?;
        }
    }
    finish(send).await
}

async fn finish(mut send: quinn::SendStream) -> io::Result<()> {
    // Err: already finished or reset, nothing left to deliver.
    let _ = send.finish();
    match tokio::time::timeout(FINISH_TIMEOUT, send.stopped()).await {
        Ok(Ok(_)) | Err(_) => Ok(()),
        Ok(Err(e)) => Err(e.into()),
    }
}

async fn send_blob(
    send: &mut quinn::SendStream,
    shared: &Shared,
    digest: Digest,
    offset: u64,
) -> io::Result<()> {
    let path = shared.store.blob_path(&digest);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let answer = Response::error(RemoteErrorKind::NotFound, format!("no blob {digest}"));
            return write_line(send, &answer).await;
        }
        Err(e) => return internal(send, format!("opening {digest}: {e}")).await,
    };
    let size = match file.metadata().await {
        Ok(meta) => meta.len(),
        Err(e) => return internal(send, format!("reading {digest}: {e}")).await,
    };
    if offset > size {
        let answer = Response::error(
            RemoteErrorKind::OffsetBeyondEnd,
            format!("offset {offset} is beyond the end of {digest} ({size} bytes)"),
        );
        return write_line(send, &answer).await;
    }
    if let Err(e) = file.seek(SeekFrom::Start(offset)).await {
        return internal(send, format!("seeking in {digest}: {e}")).await;
    }
    write_line(send, &Response::Sending { size, offset }).await?;
    let mut buf = vec![0u8; CHUNK];
    let mut left = size - offset;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let n = file.read(&mut buf[..want]).await?;
        if n == 0 {
            // The blob shrank under us: end the stream short; the client sees it.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{digest} ended {left} bytes early"),
            ));
        }
        send.write_all(&buf[..n]).await?;
        shared.stats.sent(n as u64);
        left -= n as u64;
    }
    shared.stats.blob_sent();
    Ok(())
}

async fn internal(send: &mut quinn::SendStream, message: String) -> io::Result<()> {
    tracing::warn!(%message, "data-plane server error");
    write_line(send, &Response::error(RemoteErrorKind::Internal, message)).await
}

async fn receive_blob(
    send: &mut quinn::SendStream,
    mut recv: BufReader<quinn::RecvStream>,
    shared: &Shared,
    digest: Digest,
    size: u64,
    announce: bool,
) -> io::Result<()> {
    let path = shared.store.blob_path(&digest);
    if let Ok(meta) = tokio::fs::metadata(&path).await {
        if meta.is_file() {
            let _ = recv.get_mut().stop(quinn::VarInt::from_u32(0));
            return write_line(send, &Response::Present { size: meta.len() }).await;
        }
    }
    write_line(send, &Response::Ready).await?;
    let tmp = shared.store.ingest_path(&digest);
    let outcome = ingest(&mut recv, shared, &tmp, digest, size).await;
    let answer = match outcome {
        Ingest::Done => match tokio::fs::rename(&tmp, &path).await {
            Ok(()) => {
                shared.stats.blob_received();
                if announce {
                    lock(&shared.subscribers).retain(|tx| tx.send(digest).is_ok());
                }
                Response::Stored { size }
            }
            Err(e) => Response::error(RemoteErrorKind::Internal, format!("storing {digest}: {e}")),
        },
        Ingest::Refused(answer) => answer,
        Ingest::Stream(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    if !matches!(answer, Response::Stored { .. }) {
        let _ = recv.get_mut().stop(quinn::VarInt::from_u32(0));
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    write_line(send, &answer).await
}

enum Ingest {
    Done,
    /// Refused with this answer.
    Refused(Response),
    /// The stream broke: nobody to answer.
    Stream(io::Error),
}

/// Copies exactly `size` bytes then end of stream into `tmp`, verifying `digest`.
async fn ingest(
    recv: &mut BufReader<quinn::RecvStream>,
    shared: &Shared,
    tmp: &std::path::Path,
    digest: Digest,
    size: u64,
) -> Ingest {
    let internal = |what: &str, e: io::Error| {
        Ingest::Refused(Response::error(
            RemoteErrorKind::Internal,
            format!("{what} {}: {e}", tmp.display()),
        ))
    };
    let mut file = match tokio::fs::File::create(tmp).await {
        Ok(f) => f,
        Err(e) => return internal("creating", e),
    };
    let mut digester = Digester::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match recv.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Ingest::Stream(e),
        };
        shared.stats.received(n as u64);
        total += n as u64;
        if total > size {
            return Ingest::Refused(Response::error(
                RemoteErrorKind::SizeMismatch,
                format!("more than the announced {size} bytes for {digest}"),
            ));
        }
        digester.update(&buf[..n]);
        if let Err(e) = file.write_all(&buf[..n]).await {
            return internal("writing", e);
        }
    }
    if total != size {
        return Ingest::Refused(Response::error(
            RemoteErrorKind::SizeMismatch,
            format!("received {total} bytes for {digest}, announced {size}"),
        ));
    }
    let (actual, _) = digester.finish();
    if actual != digest {
        return Ingest::Refused(Response::error(
            RemoteErrorKind::DigestMismatch,
            format!("the uploaded bytes hash to {actual}, not {digest}"),
        ));
    }
    if let Err(e) = file.flush().await {
        return internal("writing", e);
    }
    if let Err(e) = file.sync_all().await {
        return internal("syncing", e);
    }
    Ingest::Done
}
