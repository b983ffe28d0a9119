//! Why writing a build's file outputs failed.

use slipway_oci::export::ExportError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("reading the build's result: {0}")]
    Store(#[from] slipway_oci::StoreError),
    #[error("reading the build's result: {0}")]
    Image(#[from] slipway_oci::image::ImageError),
    #[error(transparent)]
    Digest(#[from] slipway_oci::DigestError),
    #[error("exporting to {dest}: {source}")]
    Export {
        dest: String,
        #[source]
        source: Box<ExportError>,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |source| BuildError::Io { op, path, source }
}
