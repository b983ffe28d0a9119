//! Build contexts: walking a directory with an ignore matcher into a sorted,
//! content-addressed listing, and checksums of selected paths for cache keys.

mod checksum;
mod hash;
mod manifest;
mod walk;

pub use checksum::{checksum, ChecksumOptions};
pub use hash::{HashCache, HashStats};
pub use manifest::{
    parse_index, parse_page, ContextManifest, EncodedBlob, EncodedManifest, ManifestEntry,
    ManifestError, PageRef, CONTEXT_MANIFEST_MEDIA_TYPE, CONTEXT_PAGE_MEDIA_TYPE, MAX_INDEX_BYTES,
    MAX_PAGE_BYTES,
};
pub use walk::{walk_context, WalkOptions, WalkResult};

use serde::{Deserialize, Serialize};
use slipway_graph::Digest;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// What kind of filesystem object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
}

impl EntryKind {
    fn tag(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::Fifo => "fifo",
            EntryKind::CharDevice => "char",
            EntryKind::BlockDevice => "block",
            EntryKind::Socket => "socket",
        }
    }
}

/// One path of a context. `path` is relative to the context root, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission and set-id/sticky bits (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Byte size for files, 0 otherwise.
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// `sha256` of the content, for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Extended attributes, values hex-encoded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub xattrs: BTreeMap<String, String>,
}

/// A context listing, sorted by path component by component (parents before children).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub entries: Vec<ContextEntry>,
}

impl Listing {
    /// Sorts entries into listing order.
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| path_order(&a.path, &b.path));
    }

    /// The entry at `path` (exact, relative), if listed.
    pub fn get(&self, path: &str) -> Option<&ContextEntry> {
        self.entries
            .binary_search_by(|e| path_order(&e.path, path))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// Paths of all entries, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.path.as_str()).collect()
    }
}

/// Component-wise order: `a/b` sorts right after `a`, before `a-b` and `a.b`.
pub fn path_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}
