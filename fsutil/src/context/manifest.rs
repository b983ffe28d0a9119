//! Context manifests: a build context described entry by entry, each regular file's content
//! named by its sha256, so a farm client uploads only the file contents a worker lacks.
//!
//! On the data plane a manifest is a small *index* blob (JSON, media type
//! [`CONTEXT_MANIFEST_MEDIA_TYPE`]) naming *pages*: gzip-compressed JSON blobs that hold the
//! entries in listing order. A page ends after an entry whose path hashes below a threshold
//! (content-defined, so adding or removing a file changes one page, not every page after
//! it), so a change to one file re-uploads one page of a few kilobytes plus the index
//! instead of a listing of the whole context.
//!
//! A manifest comes from a client and is hostile input for a worker: [`ContextManifest::new`]
//! accepts only relative, clean, `/`-separated paths (no `..`, `.`, empty components,
//! absolute paths or NUL), in strict listing order without duplicates, whose every parent is
//! a directory listed before them (so nothing is ever written through a symlink), and only
//! files (with a digest), directories and symlinks with permission bits only.

use super::{path_order, EntryKind, Listing};
use crate::error::{FsError, IoContext};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use slipway_graph::Digest;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Media type of the index blob.
pub const CONTEXT_MANIFEST_MEDIA_TYPE: &str = "application/vnd.slipway.context.manifest.v1+json";
/// Media type of a page blob.
pub const CONTEXT_PAGE_MEDIA_TYPE: &str = "application/vnd.slipway.context.page.v1+json+gzip";

/// Most entries a manifest may list.
pub const MAX_ENTRIES: usize = 4 << 20;
/// Largest index blob accepted.
pub const MAX_INDEX_BYTES: u64 = 16 << 20;
/// Largest page blob accepted, compressed and uncompressed.
pub const MAX_PAGE_BYTES: u64 = 64 << 20;
const MAX_PATH: usize = 4096;
/// A page ends after an entry whose path hash starts with a byte below this (1 in 64) ...
const PAGE_CUT: u8 = 4;
/// ... once it holds this many entries; it always ends at `MAX_PAGE_ENTRIES`.
const MIN_PAGE_ENTRIES: usize = 16;
const MAX_PAGE_ENTRIES: usize = 4096;

/// One entry of a context: a file, directory or symlink, relative to the context root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission and set-id/sticky bits.
    pub mode: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    /// Content size of a file, 0 otherwise.
    #[serde(default)]
    pub size: u64,
    /// Modification time, seconds since the epoch.
    #[serde(default)]
    pub mtime: i64,
    #[serde(default)]
    pub mtime_nsec: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// sha256 of a file's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// A page as the index names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRef {
    pub digest: Digest,
    pub size: u64,
    pub entries: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Index {
    media_type: String,
    pages: Vec<PageRef>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    entries: Vec<ManifestEntry>,
}

/// One encoded blob and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBlob {
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

/// A manifest as blobs: the index, and the pages it names (in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedManifest {
    pub index: EncodedBlob,
    pub pages: Vec<EncodedBlob>,
}

/// Why a manifest was refused or could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("context manifest {what}: invalid JSON: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("context manifest: media type {found:?}, expected {CONTEXT_MANIFEST_MEDIA_TYPE}")]
    MediaType { found: String },
    #[error("context manifest {what}: larger than {limit}")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("context manifest page {digest}: {source}")]
    Gzip {
        digest: Digest,
        source: std::io::Error,
    },
    #[error(
        "context manifest page {digest}: the index says {expected} entries, the page has {actual}"
    )]
    PageEntries {
        digest: Digest,
        expected: u32,
        actual: usize,
    },
    #[error(
        "context manifest page {digest}: the index says {expected} bytes, the blob has {actual}"
    )]
    PageSize {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("context manifest entry {path:?}: {reason}")]
    Entry { path: String, reason: &'static str },
}

fn refused(path: &str, reason: &'static str) -> ManifestError {
    ManifestError::Entry {
        path: path.chars().take(300).collect(),
        reason,
    }
}

/// A validated context manifest: the entries in listing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextManifest {
    entries: Vec<ManifestEntry>,
}

impl ContextManifest {
    /// Validates `entries` (see the module docs).
    pub fn new(entries: Vec<ManifestEntry>) -> Result<ContextManifest, ManifestError> {
        if entries.len() > MAX_ENTRIES {
            return Err(ManifestError::TooLarge {
                what: "entry count",
                limit: MAX_ENTRIES as u64,
            });
        }
        let mut dirs: HashSet<&str> = HashSet::new();
        let mut prev: Option<&str> = None;
        for e in &entries {
            check_entry(e)?;
            if let Some(p) = prev {
                if path_order(p, &e.path) != Ordering::Less {
                    return Err(refused(
                        &e.path,
                        "entries must be unique and in listing order",
                    ));
                }
            }
            if let Some((parent, _)) = e.path.rsplit_once('/') {
                if !dirs.contains(parent) {
                    return Err(refused(
                        &e.path,
                        "its parent is not a directory listed before it",
                    ));
                }
            }
            if e.kind == EntryKind::Dir {
                dirs.insert(&e.path);
            }
            prev = Some(&e.path);
        }
        Ok(ContextManifest { entries })
    }

    /// The manifest of a walked context: every file, directory and symlink of `listing`
    /// (devices, FIFOs and sockets are left out, as BuildKit's fsutil does), with the
    /// modification times read from `root` now.
    pub fn from_listing(root: &Path, listing: &Listing) -> Result<ContextManifest, FsError> {
        let mut entries = Vec::with_capacity(listing.entries.len());
        for e in &listing.entries {
            if !matches!(
                e.kind,
                EntryKind::File | EntryKind::Dir | EntryKind::Symlink
            ) {
                continue;
            }
            let path = root.join(&e.path);
            let meta = std::fs::symlink_metadata(&path).ctx("stat", &path)?;
            entries.push(ManifestEntry {
                path: e.path.clone(),
                kind: e.kind,
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
                size: e.size,
                mtime: meta.mtime(),
                mtime_nsec: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
                link_target: e.link_target.clone(),
                digest: e.digest.clone(),
            });
        }
        ContextManifest::new(entries).map_err(|e| FsError::InvalidPath {
            path: root.display().to_string(),
            reason: match e {
                ManifestError::Entry { reason, .. } => reason,
                _ => "the context cannot be described by a manifest",
            },
        })
    }

    /// Validates the entries of all pages, in index order.
    pub fn from_pages(pages: Vec<Vec<ManifestEntry>>) -> Result<ContextManifest, ManifestError> {
        ContextManifest::new(pages.into_iter().flatten().collect())
    }

    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
    }

    /// The regular files.
    pub fn files(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.entries.iter().filter(|e| e.kind == EntryKind::File)
    }

    /// Sum of the file sizes.
    pub fn file_bytes(&self) -> u64 {
        self.files().map(|e| e.size).sum()
    }

    /// The index and page blobs. The same manifest always gives the same bytes.
    pub fn encode(&self) -> Result<EncodedManifest, ManifestError> {
        let mut pages = Vec::new();
        let mut refs = Vec::new();
        let mut start = 0;
        for (i, e) in self.entries.iter().enumerate() {
            let len = i + 1 - start;
            let last = i + 1 == self.entries.len();
            let cut = len >= MAX_PAGE_ENTRIES
                || (len >= MIN_PAGE_ENTRIES && Sha256::digest(e.path.as_bytes())[0] < PAGE_CUT);
            if cut || last {
                let chunk = self.entries.get(start..=i).unwrap_or(&[]);
                let page = encode_page(chunk)?;
                refs.push(PageRef {
                    digest: page.digest.clone(),
                    size: page.bytes.len() as u64,
                    entries: chunk.len() as u32,
                });
                pages.push(page);
                start = i + 1;
            }
        }
        let index = serde_json::to_vec(&Index {
            media_type: CONTEXT_MANIFEST_MEDIA_TYPE.to_string(),
            pages: refs,
        })
        .map_err(|source| ManifestError::Json {
            what: "index",
            source,
        })?;
        Ok(EncodedManifest {
            index: EncodedBlob {
                digest: Digest::of_bytes(&index),
                bytes: index,
            },
            pages,
        })
    }
}

fn encode_page(entries: &[ManifestEntry]) -> Result<EncodedBlob, ManifestError> {
    let json = serde_json::to_vec(&Page {
        entries: entries.to_vec(),
    })
    .map_err(|source| ManifestError::Json {
        what: "page",
        source,
    })?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let bytes = gz
        .write_all(&json)
        .and_then(|()| gz.finish())
        .map_err(|source| ManifestError::Gzip {
            digest: Digest::of_bytes(&json),
            source,
        })?;
    Ok(EncodedBlob {
        digest: Digest::of_bytes(&bytes),
        bytes,
    })
}

/// The pages an index blob names.
pub fn parse_index(bytes: &[u8]) -> Result<Vec<PageRef>, ManifestError> {
    if bytes.len() as u64 > MAX_INDEX_BYTES {
        return Err(ManifestError::TooLarge {
            what: "index",
            limit: MAX_INDEX_BYTES,
        });
    }
    let index: Index = serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
        what: "index",
        source,
    })?;
    if index.media_type != CONTEXT_MANIFEST_MEDIA_TYPE {
        return Err(ManifestError::MediaType {
            found: index.media_type.chars().take(200).collect(),
        });
    }
    let total: u64 = index.pages.iter().map(|p| u64::from(p.entries)).sum();
    if total > MAX_ENTRIES as u64 {
        return Err(ManifestError::TooLarge {
            what: "entry count",
            limit: MAX_ENTRIES as u64,
        });
    }
    Ok(index.pages)
}

/// The entries of the page blob `bytes` that the index names as `page` (the caller has
/// verified the blob's digest; size and entry count are checked here).
pub fn parse_page(bytes: &[u8], page: &PageRef) -> Result<Vec<ManifestEntry>, ManifestError> {
    if bytes.len() as u64 != page.size {
        return Err(ManifestError::PageSize {
            digest: page.digest.clone(),
            expected: page.size,
            actual: bytes.len() as u64,
        });
    }
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_PAGE_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|source| ManifestError::Gzip {
            digest: page.digest.clone(),
            source,
        })?;
    if json.len() as u64 > MAX_PAGE_BYTES {
        return Err(ManifestError::TooLarge {
            what: "page",
            limit: MAX_PAGE_BYTES,
        });
    }
    let parsed: Page = serde_json::from_slice(&json).map_err(|source| ManifestError::Json {
        what: "page",
        source,
    })?;
    if parsed.entries.len() != page.entries as usize {
        return Err(ManifestError::PageEntries {
            digest: page.digest.clone(),
            expected: page.entries,
            actual: parsed.entries.len(),
        });
    }
    Ok(parsed.entries)
}

fn check_entry(e: &ManifestEntry) -> Result<(), ManifestError> {
    check_path(&e.path).map_err(|r| refused(&e.path, r))?;
    let bad = |reason| Err(refused(&e.path, reason));
    if e.mode & !0o7777 != 0 {
        return bad("mode has bits beyond permissions, set-id and sticky");
    }
    if e.mtime_nsec >= 1_000_000_000 {
        return bad("mtime_nsec is not below one second");
    }
    match e.kind {
        EntryKind::File => {
            if e.digest.is_none() {
                return bad("a file needs a digest");
            }
            if e.link_target.is_some() {
                return bad("a file has no link target");
            }
        }
        EntryKind::Dir => {
            if e.digest.is_some() || e.link_target.is_some() || e.size != 0 {
                return bad("a directory has no digest, link target or size");
            }
        }
        EntryKind::Symlink => {
            if e.digest.is_some() || e.size != 0 {
                return bad("a symlink has no digest or size");
            }
            match &e.link_target {
                None => return bad("a symlink needs a target"),
                Some(t) if t.is_empty() || t.len() > MAX_PATH || t.contains('\0') => {
                    return bad("symlink target is empty, too long or contains NUL")
                }
                Some(_) => {}
            }
        }
        _ => return bad("only files, directories and symlinks may be in a context"),
    }
    Ok(())
}

/// A clean relative path: `a/b/c`, components neither empty, `.` nor `..`.
fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.len() > MAX_PATH {
        return Err("path too long");
    }
    if path.contains('\0') {
        return Err("path contains NUL");
    }
    if path.starts_with('/') {
        return Err("absolute paths are not allowed");
    }
    for c in path.split('/') {
        match c {
            "" => return Err("empty path component (trailing or doubled '/')"),
            "." => return Err("'.' components are not allowed"),
            ".." => return Err("'..' components are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
