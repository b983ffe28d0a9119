//! Media types: what we read (OCI and Docker schema 2) and what we write (OCI by default).

use crate::layer::Compression;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_ND: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_ND_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_LAYER_ND_ZSTD: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER_FOREIGN_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Which family of media types to write (buildx's `oci-mediatypes=true|false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaTypes {
    #[default]
    Oci,
    Docker,
}

/// A media type refused for what it was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("zstd layers have no Docker media type: use OCI media types (oci-mediatypes=true)")]
    ZstdNeedsOci,
}

/// What a descriptor's media type says its blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    Index,
    Manifest,
    Config,
    Layer(Compression),
    Unknown,
}

/// Classifies a media type of either family.
pub fn classify(media_type: &str) -> BlobKind {
    match media_type {
        OCI_INDEX | DOCKER_MANIFEST_LIST => BlobKind::Index,
        OCI_MANIFEST | DOCKER_MANIFEST => BlobKind::Manifest,
        OCI_CONFIG | DOCKER_CONFIG => BlobKind::Config,
        OCI_LAYER | OCI_LAYER_ND | DOCKER_LAYER => BlobKind::Layer(Compression::None),
        OCI_LAYER_GZIP | OCI_LAYER_ND_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN_GZIP => {
            BlobKind::Layer(Compression::Gzip)
        }
        OCI_LAYER_ZSTD | OCI_LAYER_ND_ZSTD => BlobKind::Layer(Compression::Zstd),
        _ => BlobKind::Unknown,
    }
}

impl MediaTypes {
    pub fn index(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_INDEX,
            MediaTypes::Docker => DOCKER_MANIFEST_LIST,
        }
    }

    pub fn manifest(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_MANIFEST,
            MediaTypes::Docker => DOCKER_MANIFEST,
        }
    }

    pub fn config(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_CONFIG,
            MediaTypes::Docker => DOCKER_CONFIG,
        }
    }

    pub fn layer(self, compression: Compression) -> Result<&'static str, MediaError> {
        Ok(match (self, compression) {
            (MediaTypes::Oci, Compression::None) => OCI_LAYER,
            (MediaTypes::Oci, Compression::Gzip) => OCI_LAYER_GZIP,
            (MediaTypes::Oci, Compression::Zstd) => OCI_LAYER_ZSTD,
            (MediaTypes::Docker, Compression::None) => DOCKER_LAYER,
            (MediaTypes::Docker, Compression::Gzip) => DOCKER_LAYER_GZIP,
            (MediaTypes::Docker, Compression::Zstd) => return Err(MediaError::ZstdNeedsOci),
        })
    }

    /// Rewrites a layer media type of either family into this family (for re-using base layers).
    pub fn convert_layer(self, media_type: &str) -> Result<String, MediaError> {
        match classify(media_type) {
            BlobKind::Layer(c) => self.layer(c).map(str::to_string),
            _ => Ok(media_type.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families_classify() {
        assert_eq!(classify(DOCKER_MANIFEST_LIST), BlobKind::Index);
        assert_eq!(classify(OCI_MANIFEST), BlobKind::Manifest);
        assert_eq!(
            classify(DOCKER_LAYER_GZIP),
            BlobKind::Layer(Compression::Gzip)
        );
        assert_eq!(classify(OCI_LAYER_ZSTD), BlobKind::Layer(Compression::Zstd));
        assert_eq!(classify("text/plain"), BlobKind::Unknown);
    }

    #[test]
    fn docker_has_no_zstd() {
        assert_eq!(
            MediaTypes::Docker.layer(Compression::Zstd),
            Err(MediaError::ZstdNeedsOci)
        );
        assert_eq!(
            MediaTypes::Docker.convert_layer(OCI_LAYER_GZIP).unwrap(),
            DOCKER_LAYER_GZIP
        );
    }
}
