//! Byte and blob counters of a client or a server.

use std::sync::atomic::{AtomicU64, Ordering};

/// Blob payload bytes moved (control lines are not counted) and blobs completed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferStats {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Blobs sent in full (uploads for a client, downloads served for a server).
    pub blobs_sent: u64,
    /// Blobs received and verified.
    pub blobs_received: u64,
}

#[derive(Debug, Default)]
pub(crate) struct StatsCounter {
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    blobs_sent: AtomicU64,
    blobs_received: AtomicU64,
}

impl StatsCounter {
    pub(crate) fn sent(&self, bytes: u64) {
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, bytes: u64) {
        self.bytes_received.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn blob_sent(&self) {
        self.blobs_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn blob_received(&self) {
        self.blobs_received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> TransferStats {
        TransferStats {
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            blobs_sent: self.blobs_sent.load(Ordering::Relaxed),
            blobs_received: self.blobs_received.load(Ordering::Relaxed),
        }
    }
}
