//! Content-addressed blob transfer between farm processes over QUIC (quinn over rustls).
//!
//! A [`BlobServer`] serves a [`BlobStoreDir`] (`<root>/blobs/sha256/<hex>`, the layout of the
//! OCI content store); a [`BlobClient`] asks whether a blob is there ([`BlobClient::has`]),
//! uploads one ([`BlobClient::put`]) and downloads one ([`BlobClient::get`]). Every transfer is
//! verified against its sha256 digest: the server writes an upload to a temporary file under
//! `<root>/ingest/` and renames it into place only when digest and size match, so a blob is
//! never visible half-written or wrong; the client verifies downloads the same way. Downloads
//! resume: bytes already in `<dest>.partial` are hashed and only the rest is requested.
//!
//! Security comes from [`slipway_tls::Security`]: mutual TLS with the farm CA, or the dev-only
//! insecure mode (ephemeral server certificate, not checked by clients).
//!
//! # Wire protocol (ALPN `slipway-blob/1`)
//! One request per bidirectional QUIC stream. Every control message is one line of JSON
//! terminated by `\n` (at most 64 KiB); blob bytes travel raw after their control line.
//!
//! | request (client → server)                              | answer (server → client) |
//! |---|---|
//! | `{"op":"has","digest":D}`                              | `{"status":"present","size":N}` or `{"status":"absent"}` |
//! | `{"op":"get","digest":D,"offset":O}`                   | `{"status":"sending","size":N,"offset":O}` then the `N-O` bytes from `O`, then end of stream |
//! | `{"op":"put","digest":D,"size":N}`                     | `{"status":"present","size":N}` (nothing to send) or `{"status":"ready"}`; after `ready` the client sends exactly `N` bytes and ends its stream; the server answers `{"status":"stored","size":N}` once the blob is verified and visible |
//! | `{"op":"missing","digests":[D,...]}` (at most 512)      | `{"status":"missing","digests":[D,...]}`: the ones the server lacks, in request order |
//!
//! A put may carry `"announce":false`: the stored digest is then not fed to the server's
//! [`BlobServer::received`] subscribers (a worker records announced blobs with the
//! coordinators; build-context file blobs are found through their context manifest instead).
//!
//! Any request can instead be answered `{"status":"error","kind":K,"message":M}` with `K` one of
//! `not_found`, `digest_mismatch`, `size_mismatch`, `offset_beyond_end`, `bad_request`,
//! `internal`. `D` is `sha256:<64 hex>`.
//!
//! Connections use raised flow-control windows (16 MiB per stream, 64 MiB per connection)
//! and a 5 s keep-alive with a 30 s idle timeout.

mod client;
mod digest;
mod error;
mod protocol;
mod server;
mod stats;
mod store;
mod transport;

pub use client::{BlobClient, GetOutcome, PutOptions, PutOutcome};
pub use digest::BlobDigest;
pub use error::{DataPlaneError, RemoteErrorKind};
pub use protocol::MAX_BATCH;
pub use server::BlobServer;
pub use stats::TransferStats;
pub use store::BlobStoreDir;
pub use transport::ALPN;

/// Digests are sha256, as in the OCI content store.
pub use slipway_oci::Digest;
