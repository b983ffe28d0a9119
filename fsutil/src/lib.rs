//! Filesystem semantics for slipway builds (the role of BuildKit's tonistiigi/fsutil,
//! moby/patternmatcher and the file-op backend):
//!
//! - [`pattern`]: Docker's path patterns (`.dockerignore`, `--exclude`, `--parents`).
//! - [`dockerignore`]: reading `.dockerignore` files and choosing which one applies.
//! - [`context`]: walking a build context into a content-addressed listing; checksums of
//!   selected paths for cache keys.
//! - [`copy`]: applying graph [`slipway_graph::FileOp`]s (COPY/ADD, mkdir, mkfile, rm) onto
//!   a destination root, with every destination path resolved inside that root.
//!
//! Everything is synchronous; async callers use `spawn_blocking`.

pub mod context;
pub mod copy;
pub mod dockerignore;
pub mod error;
pub mod glob;
pub mod pathclean;
pub mod pattern;
pub mod root;
pub mod xattr;

pub use context::{
    checksum, walk_context, ChecksumOptions, ContextEntry, EntryKind, HashCache, HashStats,
    Listing, WalkOptions, WalkResult,
};
pub use copy::{apply_file_op, ApplyOptions, OwnershipPolicy, XattrPolicy};
pub use dockerignore::{parse_ignore_file, read_ignore_patterns, select_ignore_file, IgnoreFile};
pub use error::{FsError, PatternError};
pub use pattern::{MatchInfo, Pattern, PatternMatcher};
pub use root::{resolve_in_root, FollowFinal};
