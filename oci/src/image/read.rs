//! Reading manifests, indexes and configs back from the store, in either media-type family.

use super::ImageError;
use crate::digest::Digest;
use crate::media::{classify, BlobKind};
use crate::platform::select_from;
use crate::store::ContentStore;
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use slipway_graph::Platform;

fn parse<T: serde::de::DeserializeOwned>(
    store: &ContentStore,
    digest: &Digest,
    what: &'static str,
) -> Result<T, ImageError> {
    let bytes = store.read_blob(digest)?;
    serde_json::from_slice(&bytes).map_err(|e| ImageError::Parse {
        what,
        digest: *digest,
        message: e.to_string(),
    })
}

pub fn read_manifest(store: &ContentStore, digest: &Digest) -> Result<ImageManifest, ImageError> {
    parse(store, digest, "manifest")
}

pub fn read_index(store: &ContentStore, digest: &Digest) -> Result<ImageIndex, ImageError> {
    parse(store, digest, "index")
}

pub fn read_config(
    store: &ContentStore,
    digest: &Digest,
) -> Result<ImageConfiguration, ImageError> {
    parse(store, digest, "config")
}

/// The manifests a root descriptor stands for: itself, or the entries of an index.
#[derive(Debug, Clone)]
pub enum Manifests {
    Single(Descriptor),
    Index { index: ImageIndex, digest: Digest },
}

impl Manifests {
    pub fn of(store: &ContentStore, root: &Descriptor) -> Result<Manifests, ImageError> {
        let digest = Digest::try_from(root.digest())?;
        match classify(root.media_type().as_ref()) {
            BlobKind::Manifest => Ok(Manifests::Single(root.clone())),
            BlobKind::Index => Ok(Manifests::Index {
                index: read_index(store, &digest)?,
                digest,
            }),
            _ => Err(ImageError::UnexpectedMediaType {
                digest,
                media_type: root.media_type().to_string(),
                expected: "an image manifest or index",
            }),
        }
    }
}

/// The manifest for `platform` under `root` (a manifest is returned as is; an index is searched
/// with containerd's matcher: exact first, then compatible variants).
pub fn resolve_manifest(
    store: &ContentStore,
    root: &Descriptor,
    platform: &Platform,
) -> Result<Descriptor, ImageError> {
    match Manifests::of(store, root)? {
        Manifests::Single(d) => Ok(d),
        Manifests::Index { index, digest } => select_from(index.manifests(), platform)
            .cloned()
            .ok_or_else(|| ImageError::NoMatchingPlatform {
                platform: platform.to_string(),
                index: digest,
            }),
    }
}
