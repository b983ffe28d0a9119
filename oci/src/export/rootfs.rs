//! The image's root filesystem: applied into a directory (`type=local`), or as one plain tar
//! (`type=tar`). Each layer's diffID is checked against the config while it is applied.

use super::{
    io_err, pick_manifest, resolve_image, ExportError, ExportReport, ExportSource, Exporter,
};
use crate::digest::Digest;
use crate::layer::{apply_layer, write_dir_layer, ApplyOptions, CompressionOptions, LayerOptions};
use slipway_graph::Platform;
use std::path::{Path, PathBuf};

/// Applies the layers in order into `path` (created if missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDir {
    pub path: PathBuf,
    pub platform: Option<Platform>,
    pub apply: ApplyOptions,
}

/// Writes the root filesystem as an uncompressed tar, deterministic (sorted, numeric ids,
/// mtimes clamped to `source_date_epoch` when given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsTar {
    pub path: PathBuf,
    pub platform: Option<Platform>,
    pub apply: ApplyOptions,
    pub source_date_epoch: Option<i64>,
}

fn apply_all(
    source: &ExportSource<'_>,
    platform: Option<&Platform>,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<usize, ExportError> {
    let manifest = pick_manifest(source, platform)?;
    let image = resolve_image(source.store, &manifest)?;
    std::fs::create_dir_all(dest).map_err(io_err(dest, "create"))?;
    for (index, (desc, diff_id)) in image.layers.iter().enumerate() {
        let blob = Digest::try_from(desc.digest())?;
        let reader = source.store.open_blob(&blob)?;
        let stats = apply_layer(reader, dest, opts)?;
        if stats.diff_id != *diff_id {
            return Err(ExportError::DiffIdMismatch {
                index,
                digest: blob,
                expected: *diff_id,
                actual: stats.diff_id,
            });
        }
    }
    Ok(image.layers.len())
}

impl Exporter for LocalDir {
    fn export(&self, source: &ExportSource<'_>) -> Result<ExportReport, ExportError> {
        let items = apply_all(source, self.platform.as_ref(), &self.path, &self.apply)?;
        Ok(ExportReport {
            path: self.path.clone(),
            items,
        })
    }
}

impl Exporter for RootfsTar {
    fn export(&self, source: &ExportSource<'_>) -> Result<ExportReport, ExportError> {
        let parent = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let scratch = tempfile::tempdir_in(parent).map_err(io_err(parent, "temp dir"))?;
        let items = apply_all(source, self.platform.as_ref(), scratch.path(), &self.apply)?;
        let file = std::fs::File::create(&self.path).map_err(io_err(&self.path, "create"))?;
        let opts = LayerOptions {
            compression: CompressionOptions::uncompressed(),
            source_date_epoch: self.source_date_epoch,
            ..Default::default()
        };
        let (file, _) = write_dir_layer(scratch.path(), file, &opts)?;
        file.sync_all().map_err(io_err(&self.path, "fsync"))?;
        Ok(ExportReport {
            path: self.path.clone(),
            items,
        })
    }
}
