//! File exports of an image held in the content store: OCI layout (directory or tar),
//! docker-archive tar (`docker load`), the root filesystem as a directory or a plain tar.
//! Registry push lives in `registry`.

mod archive;
mod docker;
mod oci_layout;
mod rootfs;

pub use docker::DockerArchive;
pub use oci_layout::{OciLayoutDir, OciLayoutTar};
pub use rootfs::{LocalDir, RootfsTar};

use crate::digest::Digest;
use crate::image::{read_manifest, resolve_manifest, ImageError, Manifests};
use crate::store::ContentStore;
use oci_spec::image::Descriptor;
use slipway_graph::Platform;
use std::path::PathBuf;

/// The image to export: a manifest or an index in `store`, and optionally its name
/// (`registry/repo:tag`), used for tags in the outputs that have them.
pub struct ExportSource<'a> {
    pub store: &'a ContentStore,
    pub root: Descriptor,
    pub name: Option<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub path: PathBuf,
    /// Blobs (or layers) written.
    pub items: usize,
}

/// A file exporter.
pub trait Exporter {
    fn export(&self, source: &ExportSource<'_>) -> Result<ExportReport, ExportError>;
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Apply(#[from] crate::layer::ApplyError),
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),
    #[error(transparent)]
    Digest(#[from] crate::digest::DigestError),
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("the image has {count} platforms: choose one for this single-platform export")]
    NeedPlatform { count: usize },
    #[error("layer {index} ({digest}) has diffID {actual}, but the config says {expected}")]
    DiffIdMismatch {
        index: usize,
        digest: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("manifest {manifest} has {layers} layers but its config lists {diff_ids} diffIDs")]
    LayerCount {
        manifest: Digest,
        layers: usize,
        diff_ids: usize,
    },
}

pub(crate) fn io_err(
    path: &std::path::Path,
    op: &'static str,
) -> impl FnOnce(std::io::Error) -> ExportError {
    let path = path.to_path_buf();
    move |source| ExportError::Io { path, op, source }
}

/// The single manifest a single-platform export uses.
pub(crate) fn pick_manifest(
    source: &ExportSource<'_>,
    platform: Option<&Platform>,
) -> Result<Descriptor, ExportError> {
    if let Some(p) = platform {
        return Ok(resolve_manifest(source.store, &source.root, p)?);
    }
    match Manifests::of(source.store, &source.root)? {
        Manifests::Single(d) => Ok(d),
        Manifests::Index { index, .. } => match index.manifests().as_slice() {
            [only] => Ok(only.clone()),
            many => Err(ExportError::NeedPlatform { count: many.len() }),
        },
    }
}

/// A manifest with its config's diffIDs, checked to line up with its layers.
pub(crate) struct ResolvedImage {
    pub config_digest: Digest,
    pub layers: Vec<(Descriptor, Digest)>,
}

pub(crate) fn resolve_image(
    store: &ContentStore,
    manifest: &Descriptor,
) -> Result<ResolvedImage, ExportError> {
    let manifest_digest = Digest::try_from(manifest.digest())?;
    let m = read_manifest(store, &manifest_digest)?;
    let config_digest = Digest::try_from(m.config().digest())?;
    let config = crate::image::read_config(store, &config_digest)?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != m.layers().len() {
        return Err(ExportError::LayerCount {
            manifest: manifest_digest,
            layers: m.layers().len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut layers = Vec::new();
    for (d, id) in m.layers().iter().zip(diff_ids) {
        layers.push((d.clone(), id.parse::<Digest>()?));
    }
    Ok(ResolvedImage {
        config_digest,
        layers,
    })
}

/// Every blob reachable from `root` (indexes, manifests, configs, layers), each once, parents
/// before children.
pub fn reachable_blobs(
    store: &ContentStore,
    root: &Descriptor,
) -> Result<Vec<Descriptor>, ExportError> {
    let mut out: Vec<Descriptor> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        let digest = Digest::try_from(d.digest())?;
        if !seen.insert(digest) {
            continue;
        }
        match crate::media::classify(d.media_type().as_ref()) {
            crate::media::BlobKind::Index => {
                let idx = crate::image::read_index(store, &digest)?;
                stack.extend(idx.manifests().iter().rev().cloned());
            }
            crate::media::BlobKind::Manifest => {
                let m = read_manifest(store, &digest)?;
                stack.extend(m.layers().iter().rev().cloned());
                stack.push(m.config().clone());
            }
            _ => {}
        }
        out.push(d);
    }
    Ok(out)
}

/// The tag part of `registry/repo:tag` (`latest` when absent; digests are not tags).
pub(crate) fn tag_of(name: &str) -> String {
    let name = name.split('@').next().unwrap_or(name);
    match name.rsplit_once(':') {
        Some((_, tag)) if !tag.contains('/') => tag.to_string(),
        _ => "latest".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::tag_of;

    #[test]
    fn tags() {
        assert_eq!(tag_of("localhost:5000/app:v1"), "v1");
        assert_eq!(tag_of("localhost:5000/app"), "latest");
        assert_eq!(tag_of("app"), "latest");
    }
}
