//! Source ops: where bytes enter the graph.

use crate::Digest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceOp {
    /// A container image's root filesystem, for the vertex's platform.
    Image(ImageSource),
    /// Files from a directory the client serves (the build context or a named local context).
    Local(LocalContext),
    /// One file downloaded over HTTP(S) (`ADD https://...`).
    Http(HttpSource),
    /// A git repository checked out at one commit (`ADD https://host/repo.git#ref:dir`).
    Git(GitSource),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSource {
    /// The normalised reference, e.g. `docker.io/library/alpine:3.20`.
    pub reference: String,
    /// The manifest digest the reference resolved to, when the frontend knew it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Digest>,
}

/// A directory served by the client. `name` is `context` for the main build context.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LocalContext {
    pub name: String,
    /// Only these paths (patterns) are needed; empty means everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_patterns: Vec<String>,
    /// Paths left out (`.dockerignore`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSource {
    pub url: String,
    /// The name the downloaded file gets.
    pub filename: String,
    /// Expected digest of the content (`ADD --checksum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Digest>,
}

/// A git repository checked out at one commit: its files (or those of `subdir`), without
/// `.git` unless `keep_git_dir`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GitSource {
    /// The remote as git takes it (`https://…`, `http://…`, `git://…`, `ssh://…` or
    /// `user@host:path`), without fragment or query.
    pub remote: String,
    /// A branch, tag, full ref name or commit; empty: the remote's `HEAD`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// The commit the reference must resolve to (`ADD --checksum`, `?checksum=`), full or
    /// abbreviated hex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub checksum: String,
    /// Only this directory of the checkout is the result.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subdir: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_git_dir: bool,
    /// Leave submodules out (BuildKit checks them out by default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_submodules: bool,
    /// Every file's modification time is the commit's time (`?mtime=commit`), not the
    /// checkout's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mtime_commit: bool,
}
