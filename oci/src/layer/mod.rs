//! Layers: applying layer tars safely, and producing deterministic ones from an overlayfs upper
//! directory, a lower/upper pair of trees or a whole directory.

pub mod apply;
pub mod compression;
pub mod diff;
pub mod entry;
pub mod overlay;
pub mod pgzip;
mod resolve;
mod sys;
pub mod tarwrite;

pub use apply::{apply_layer, ApplyError, ApplyOptions, ApplyStats};
pub use compression::{decompress, detect, Compression, CompressionOptions, Compressor};
pub use diff::diff_entries;
pub use entry::{dir_entries, EntryKind, FsEntry};
pub use overlay::overlay_entries;
pub use tarwrite::{write_layer, LayerInfo, LayerOptions};

use std::path::PathBuf;

/// Why a layer could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("walking {path}: {message}")]
    Walk { path: PathBuf, message: String },
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("{path}: sockets and other special files cannot go into a layer")]
    UnsupportedFileType { path: PathBuf },
    #[error("{path}: changed size while being archived")]
    FileChanged { path: PathBuf },
    #[error("{path}: overlay upper uses {xattr} (redirect_dir/metacopy), which a layer tar cannot express")]
    OverlayFeature { path: PathBuf, xattr: String },
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
}

/// A whole directory as one layer.
pub fn write_dir_layer<W: std::io::Write + Send + 'static>(
    root: &std::path::Path,
    out: W,
    opts: &LayerOptions,
) -> Result<(W, LayerInfo), LayerError> {
    write_layer(dir_entries(root)?, out, opts)
}

/// An overlayfs upper directory as a layer.
pub fn write_overlay_layer<W: std::io::Write + Send + 'static>(
    upper: &std::path::Path,
    out: W,
    opts: &LayerOptions,
) -> Result<(W, LayerInfo), LayerError> {
    write_layer(overlay_entries(upper)?, out, opts)
}

/// The difference between two trees as a layer.
pub fn write_diff_layer<W: std::io::Write + Send + 'static>(
    lower: &std::path::Path,
    upper: &std::path::Path,
    out: W,
    opts: &LayerOptions,
) -> Result<(W, LayerInfo), LayerError> {
    write_layer(diff_entries(lower, upper)?, out, opts)
}
