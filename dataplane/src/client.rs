//! The blob client: one QUIC connection to a [`BlobServer`](crate::BlobServer), one stream per
//! request.

use crate::digest::BlobDigest;
use crate::error::{DataPlaneError, RemoteErrorKind};
use crate::protocol::{read_line, write_line, Request, Response, MAX_BATCH};
use crate::stats::{StatsCounter, TransferStats};
use crate::transport::client_endpoint;
use slipway_oci::digest::Digester;
use slipway_oci::Digest;
use slipway_tls::Security;
use std::collections::HashSet;
use std::fmt::Display;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::ToSocketAddrs;

const CHUNK: usize = 256 * 1024;
/// How long to wait for the server's verdict after an upload was cut short.
const VERDICT_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`BlobClient::put`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Uploaded, verified and stored by the server.
    Stored { bytes: u64 },
    /// The server had the blob already; nothing was sent.
    AlreadyPresent { size: u64 },
}

/// How [`BlobClient::put_with`] uploads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutOptions {
    /// Feed the digest to the server's [`received`](crate::BlobServer::received) subscribers
    /// once stored (a worker records such blobs with the coordinators). Context file blobs
    /// are not announced: they are found through their manifest.
    pub announce: bool,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions { announce: true }
    }
}

/// What [`BlobClient::get`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetOutcome {
    /// Size of the blob.
    pub size: u64,
    /// Bytes that were already in `<dest>.partial` and not downloaded again.
    pub resumed_from: u64,
    /// Bytes downloaded by this call.
    pub bytes_received: u64,
}

/// A connection to one blob server.
pub struct BlobClient {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    peer: SocketAddr,
    stats: StatsCounter,
}

impl BlobClient {
    /// Connects to `addr` (`host:port` or a socket address). Under mTLS the server certificate
    /// must name the host of `addr` (node certificates carry `127.0.0.1`, `localhost`, the node
    /// name and the extra hosts given to `init_certs`).
    pub async fn connect<A>(addr: A, security: &Security) -> Result<BlobClient, DataPlaneError>
    where
        A: ToSocketAddrs + Display,
    {
        let shown = addr.to_string();
        let name = host_of(&shown).to_string();
        BlobClient::connect_named(addr, security, &name).await
    }

    /// Connects to `addr` checking the server certificate against `server_name`.
    pub async fn connect_named<A>(
        addr: A,
        security: &Security,
        server_name: &str,
    ) -> Result<BlobClient, DataPlaneError>
    where
        A: ToSocketAddrs + Display,
    {
        let shown = addr.to_string();
        let peer = tokio::net::lookup_host(addr)
            .await
            .map_err(|source| DataPlaneError::Resolve {
                addr: shown.clone(),
                source,
            })?
            .next()
            .ok_or(DataPlaneError::NoAddress { addr: shown })?;
        let endpoint = client_endpoint(peer, security)?;
        let connection = endpoint
            .connect(peer, server_name)
            .map_err(|source| DataPlaneError::Connect { addr: peer, source })?
            .await
            .map_err(|source| DataPlaneError::Connection { addr: peer, source })?;
        Ok(BlobClient {
            endpoint,
            connection,
            peer,
            stats: StatsCounter::default(),
        })
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Blob bytes sent and received by this client so far.
    pub fn stats(&self) -> TransferStats {
        self.stats.snapshot()
    }

    /// Whether the server holds `digest`.
    pub async fn has<D: BlobDigest + ?Sized>(&self, digest: &D) -> Result<bool, DataPlaneError> {
        let digest = digest.to_blob_digest()?;
        let mut call = self.call("has", digest, &Request::Has { digest }).await?;
        let answer = call.answer().await?;
        match answer {
            Response::Present { .. } => Ok(true),
            Response::Absent => Ok(false),
            other => Err(call.unexpected(other)),
        }
    }

    /// Which of `digests` the server lacks, in the given order: one round trip per
    /// [`MAX_BATCH`] digests.
    pub async fn missing(&self, digests: &[Digest]) -> Result<Vec<Digest>, DataPlaneError> {
        let mut lacking = Vec::new();
        for batch in digests.chunks(MAX_BATCH) {
            let Some(first) = batch.first() else { continue };
            let request = Request::Missing {
                digests: batch.to_vec(),
            };
            let mut call = self.call("missing", *first, &request).await?;
            let _ = call.send.finish();
            match call.answer().await? {
                Response::Missing { digests } => {
                    let asked: HashSet<&Digest> = batch.iter().collect();
                    if let Some(odd) = digests.iter().find(|d| !asked.contains(d)) {
                        return Err(call.protocol(format!(
                            "the server named {odd} missing, which was not asked about"
                        )));
                    }
                    lacking.extend(digests);
                }
                other => return Err(call.unexpected(other)),
            }
        }
        Ok(lacking)
    }

    /// Uploads the file at `path` as `digest`. The server verifies size and digest before the
    /// blob becomes visible; a mismatch is a [`DataPlaneError::Remote`] with
    /// [`RemoteErrorKind::DigestMismatch`] and leaves nothing behind.
    pub async fn put<D: BlobDigest + ?Sized>(
        &self,
        digest: &D,
        path: &Path,
    ) -> Result<PutOutcome, DataPlaneError> {
        self.put_with(digest, path, &PutOptions::default()).await
    }

    /// [`put`](Self::put) with options. The file is streamed from disk.
    pub async fn put_with<D: BlobDigest + ?Sized>(
        &self,
        digest: &D,
        path: &Path,
        opts: &PutOptions,
    ) -> Result<PutOutcome, DataPlaneError> {
        let digest = digest.to_blob_digest()?;
        let io_err = |what| {
            move |source| DataPlaneError::Io {
                path: path.to_path_buf(),
                what,
                source,
            }
        };
        let file = tokio::fs::File::open(path)
            .await
            .map_err(io_err("opening"))?;
        let size = file.metadata().await.map_err(io_err("reading"))?.len();
        self.put_reader(digest, size, file, path, opts).await
    }

    /// Uploads `bytes` as `digest` (for small blobs built in memory).
    pub async fn put_bytes<D: BlobDigest + ?Sized>(
        &self,
        digest: &D,
        bytes: &[u8],
        opts: &PutOptions,
    ) -> Result<PutOutcome, DataPlaneError> {
        let digest = digest.to_blob_digest()?;
        let size = bytes.len() as u64;
        self.put_reader(digest, size, bytes, Path::new("<memory>"), opts)
            .await
    }

    async fn put_reader<R: tokio::io::AsyncRead + Unpin>(
        &self,
        digest: Digest,
        size: u64,
        mut reader: R,
        path: &Path,
        opts: &PutOptions,
    ) -> Result<PutOutcome, DataPlaneError> {
        let request = Request::Put {
            digest,
            size,
            announce: opts.announce,
        };
        let mut call = self.call("put", digest, &request).await?;
        match call.answer().await? {
            Response::Ready => {}
            Response::Present { size } => {
                let _ = call.send.finish();
                return Ok(PutOutcome::AlreadyPresent { size });
            }
            other => return Err(call.unexpected(other)),
        }
        let mut buf = vec![0u8; CHUNK];
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
            let n = reader
                .read(&mut buf[..want])
                .await
                .map_err(|source| DataPlaneError::Io {
                    path: path.to_path_buf(),
                    what: "reading",
                    source,
                })?;
            if n == 0 {
                let _ = call.send.reset(quinn::VarInt::from_u32(1));
                return Err(DataPlaneError::SizeMismatch {
                    path: path.to_path_buf(),
                    expected: size,
                    actual: size - left,
                });
            }
            if let Err(e) = call.send.write_all(&buf[..n]).await {
                // The server stopped reading: its verdict says why.
                return Err(call.verdict_after(e.into()).await);
            }
            self.stats.sent(n as u64);
            left -= n as u64;
        }
        let _ = call.send.finish();
        match call.answer().await? {
            Response::Stored { .. } => {
                self.stats.blob_sent();
                Ok(PutOutcome::Stored { bytes: size })
            }
            other => Err(call.unexpected(other)),
        }
    }

    /// Downloads `digest` to `dest`, verified. Bytes go to `<dest>.partial` first; when that
    /// file exists, its bytes are hashed and only the rest is requested. A broken transfer
    /// keeps the partial file for the next call; a digest mismatch removes it. `dest` is
    /// replaced only by a verified blob.
    pub async fn get<D: BlobDigest + ?Sized>(
        &self,
        digest: &D,
        dest: &Path,
    ) -> Result<GetOutcome, DataPlaneError> {
        let digest = digest.to_blob_digest()?;
        let partial = partial_path(dest);
        let (mut digester, mut offset) = hash_existing(&partial).await?;
        let (mut call, size) = loop {
            let mut call = self
                .call("get", digest, &Request::Get { digest, offset })
                .await?;
            let _ = call.send.finish();
            match call.answer().await? {
                Response::Sending { size, offset: o } if o == offset => break (call, size),
                Response::Error {
                    kind: RemoteErrorKind::OffsetBeyondEnd,
                    ..
                } if offset > 0 => {
                    // The partial file is longer than the blob: it cannot be a prefix.
                    remove(&partial).await?;
                    digester = Digester::new();
                    offset = 0;
                }
                other => return Err(call.unexpected(other)),
            }
        };
        let io_err = |what| {
            let path = partial.clone();
            move |source| DataPlaneError::Io { path, what, source }
        };
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .await
            .map_err(io_err("opening"))?;
        let mut buf = vec![0u8; CHUNK];
        let mut received = 0u64;
        let expected = size - offset;
        let copied: Result<(), DataPlaneError> = async {
            loop {
                let n = call
                    .recv
                    .read(&mut buf)
                    .await
                    .map_err(|e| call.stream_error(e))?;
                if n == 0 {
                    break;
                }
                if received + n as u64 > expected {
                    return Err(call.protocol(format!(
                        "the server sent more than the {expected} bytes it announced"
                    )));
                }
                file.write_all(&buf[..n]).await.map_err(io_err("writing"))?;
                digester.update(&buf[..n]);
                self.stats.received(n as u64);
                received += n as u64;
            }
            if received != expected {
                return Err(call.protocol(format!(
                    "the stream ended after {received} of {expected} bytes"
                )));
            }
            Ok(())
        }
        .await;
        // Keep what arrived, even on error: the next call resumes from it.
        file.flush().await.map_err(io_err("writing"))?;
        copied?;
        file.sync_all().await.map_err(io_err("syncing"))?;
        drop(file);
        let (actual, _) = digester.finish();
        if actual != digest {
            remove(&partial).await?;
            return Err(DataPlaneError::DigestMismatch {
                peer: self.peer,
                expected: digest,
                actual,
            });
        }
        tokio::fs::rename(&partial, dest)
            .await
            .map_err(|source| DataPlaneError::Io {
                path: dest.to_path_buf(),
                what: "moving the verified download into place",
                source,
            })?;
        self.stats.blob_received();
        Ok(GetOutcome {
            size,
            resumed_from: offset,
            bytes_received: received,
        })
    }

    /// Closes the connection: the peer is told at once, the endpoint drains in the
    /// background.
    pub async fn close(self) {
        self.connection.close(quinn::VarInt::from_u32(0), b"done");
        // The close frame goes out at once; the connection's draining period (three probe
        // timeouts, ~100 ms on loopback) passes in the background rather than in the
        // caller (a no-op farm build closed two of these one after the other).
        // (quinn's Endpoint is a handle: the clone keeps the driver until idle.)
        let endpoint = self.endpoint.clone();
        tokio::spawn(async move { endpoint.wait_idle().await });
    }

    async fn call(
        &self,
        op: &'static str,
        digest: Digest,
        request: &Request,
    ) -> Result<Call, DataPlaneError> {
        let (send, recv) =
            self.connection
                .open_bi()
                .await
                .map_err(|source| DataPlaneError::Connection {
                    addr: self.peer,
                    source,
                })?;
        let mut call = Call {
            op,
            digest,
            peer: self.peer,
            send,
            recv: BufReader::with_capacity(CHUNK, recv),
        };
        write_line(&mut call.send, request)
            .await
            .map_err(|e| call.stream_error(e))?;
        Ok(call)
    }
}

/// Dropping a client closes its connection at once, so the server frees it without waiting for
/// the idle timeout; [`BlobClient::close`] also waits until the close was sent.
impl Drop for BlobClient {
    fn drop(&mut self) {
        self.connection
            .close(quinn::VarInt::from_u32(0), b"client dropped");
    }
}

/// One request stream.
struct Call {
    op: &'static str,
    digest: Digest,
    peer: SocketAddr,
    send: quinn::SendStream,
    recv: BufReader<quinn::RecvStream>,
}

impl Call {
    async fn answer(&mut self) -> Result<Response, DataPlaneError> {
        match read_line::<_, Response>(&mut self.recv).await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(self.protocol("the server closed the stream without answering")),
            Err(e) => Err(self.stream_error(e)),
        }
    }

    /// The error for an answer that does not fit the request.
    fn unexpected(&self, answer: Response) -> DataPlaneError {
        match answer {
            Response::Error { kind, message } => DataPlaneError::Remote {
                op: self.op,
                digest: self.digest,
                peer: self.peer,
                kind,
                message,
            },
            other => self.protocol(format!("unexpected answer {other:?}")),
        }
    }

    /// After a failed write: the server's error answer when it sent one, else `write_error`.
    async fn verdict_after(&mut self, write_error: io::Error) -> DataPlaneError {
        match tokio::time::timeout(VERDICT_TIMEOUT, self.answer()).await {
            Ok(Ok(answer @ Response::Error { .. })) => self.unexpected(answer),
            _ => self.stream_error(write_error),
        }
    }

    fn stream_error(&self, source: io::Error) -> DataPlaneError {
        DataPlaneError::Stream {
            op: self.op,
            digest: self.digest,
            peer: self.peer,
            source,
        }
    }

    fn protocol(&self, message: impl Into<String>) -> DataPlaneError {
        DataPlaneError::Protocol {
            op: self.op,
            digest: self.digest,
            peer: self.peer,
            message: message.into(),
        }
    }
}

/// `<dest>.partial`.
pub(crate) fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Hashes the bytes already downloaded; (empty, 0) when there are none.
async fn hash_existing(partial: &Path) -> Result<(Digester, u64), DataPlaneError> {
    let mut digester = Digester::new();
    let mut file = match tokio::fs::File::open(partial).await {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((digester, 0)),
        Err(source) => {
            return Err(DataPlaneError::Io {
                path: partial.to_path_buf(),
                what: "opening",
                source,
            })
        }
    };
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|source| DataPlaneError::Io {
                path: partial.to_path_buf(),
                what: "reading",
                source,
            })?;
        if n == 0 {
            break;
        }
        digester.update(&buf[..n]);
    }
    let len = digester.len();
    Ok((digester, len))
}

async fn remove(path: &Path) -> Result<(), DataPlaneError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DataPlaneError::Io {
            path: path.to_path_buf(),
            what: "removing",
            source,
        }),
    }
}

/// The host part of `host:port` / `[v6]:port`, used as the TLS server name.
fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, _port)) if !host.contains(':') => host,
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_host() {
        assert_eq!(host_of("127.0.0.1:4000"), "127.0.0.1");
        assert_eq!(host_of("worker-1:4000"), "worker-1");
        assert_eq!(host_of("[::1]:4000"), "::1");
        assert_eq!(host_of("::1"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn partial_files_sit_beside_the_destination() {
        assert_eq!(
            partial_path(Path::new("/d/sha256-abc")),
            PathBuf::from("/d/sha256-abc.partial")
        );
    }
}
