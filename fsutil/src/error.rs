//! Errors of this crate: one enum for patterns, one for filesystem work.

use std::io;
use std::path::PathBuf;

/// A pattern that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("illegal exclusion pattern {pattern:?}: \"!\" alone excludes nothing")]
    IllegalExclusion { pattern: String },
    #[error("malformed pattern {pattern:?}: {reason}")]
    Malformed { pattern: String, reason: String },
}

/// Why a filesystem operation failed. Every variant names the path involved.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{context}: {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path:?}: not found")]
    SourceNotFound { path: String },
    #[error("no source files were specified: {pattern:?} matched nothing")]
    NoSourceMatched { pattern: String },
    #[error("required path {path:?} not found in the source")]
    RequiredPathMissing { path: String },
    #[error("file op refers to input {index} but only {count} inputs were given")]
    InputOutOfRange { index: u32, count: usize },
    #[error(
        "when copying more than one source file ({pattern:?} matched {count}), the destination {dest:?} must be a directory and end with a /"
    )]
    MultipleSourcesNeedDirDest {
        pattern: String,
        dest: String,
        count: usize,
    },
    #[error("destination parent of {dest:?} does not exist")]
    DestParentMissing { dest: String },
    #[error("cannot copy directory {src:?} onto non-directory {dest}")]
    CopyDirOntoFile { src: String, dest: PathBuf },
    #[error("cannot replace directory {dest} with a file")]
    ReplaceDirWithFile { dest: PathBuf },
    #[error("{path}: exists and is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("unable to find user {name:?} in {passwd}")]
    UnknownUser { name: String, passwd: PathBuf },
    #[error("unable to find group {name:?} in {group}")]
    UnknownGroup { name: String, group: PathBuf },
    #[error("{file}:{line}: malformed entry")]
    MalformedIdFile { file: PathBuf, line: usize },
    #[error("invalid chmod {mode:?}: {reason}")]
    InvalidChmod { mode: String, reason: String },
    #[error("too many levels of symbolic links resolving {path:?}")]
    SymlinkLoop { path: String },
    #[error("archive {archive}: entry {entry:?} is unsafe: {reason}")]
    UnsafeArchiveEntry {
        archive: PathBuf,
        entry: String,
        reason: &'static str,
    },
    #[error("archive {archive}: {source}")]
    Archive {
        archive: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: unsupported file type")]
    UnsupportedFileType { path: PathBuf },
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("pattern: {0}")]
    Pattern(#[from] PatternError),
    #[error("digest: {0}")]
    Digest(#[from] slipway_graph::DigestError),
    #[error("{path}: reading xattr {name:?}: {source}")]
    Xattr {
        path: PathBuf,
        name: String,
        #[source]
        source: io::Error,
    },
}

impl FsError {
    /// An IO error with what was being done and on which path.
    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: io::Error) -> FsError {
        FsError::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

/// Extension to attach a path and context to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: &'static str, path: &std::path::Path) -> Result<T, FsError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: &'static str, path: &std::path::Path) -> Result<T, FsError> {
        self.map_err(|e| FsError::io(context, path, e))
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx(self, context: &'static str, path: &std::path::Path) -> Result<T, FsError> {
        self.map_err(|e| FsError::io(context, path, io::Error::from(e)))
    }
}
