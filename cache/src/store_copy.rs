//! Copying a blob file into the content store off the async threads, verified by digest.

use std::path::{Path, PathBuf};

use slipway_oci::{ContentStore, Digest, StoreError};

use super::RemoteCacheError;

/// Streams the file at `path` into `store` as blob `digest`; different content is refused (the
/// store keeps nothing) and the error names both digests.
pub(crate) async fn ingest_file(
    store: &ContentStore,
    path: &Path,
    digest: Digest,
    origin: &str,
) -> Result<(), RemoteCacheError> {
    let store_err = |source: StoreError| RemoteCacheError::Store {
        origin: origin.to_string(),
        source,
    };
    let mut writer = store.writer().map_err(store_err)?;
    let src: PathBuf = path.to_path_buf();
    let copied = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&src).map_err(|e| ("open", src.clone(), e))?;
        std::io::copy(&mut file, &mut writer).map_err(|e| ("copy", src.clone(), e))?;
        Ok::<_, (&'static str, PathBuf, std::io::Error)>(writer.commit(Some(&digest)))
    })
    .await
    .map_err(|e| RemoteCacheError::Io {
        origin: origin.to_string(),
        op: "copy (task failed)",
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    match copied {
        Ok(committed) => committed.map(|_| ()).map_err(store_err),
        Err((op, path, source)) => Err(RemoteCacheError::Io {
            origin: origin.to_string(),
            op,
            path,
            source,
        }),
    }
}
