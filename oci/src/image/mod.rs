//! Image assembly: configs (rootfs.diff_ids, history, created, platform), manifests and
//! multi-platform indexes written to the content store with exact bytes and digests; and
//! reading them back (both OCI and Docker media types).

pub mod annotations;
mod build;
pub mod json;
mod read;

pub use annotations::OciAnnotation;
pub use build::{
    encode_index, write_image, write_index, HistoryEntry, ImageInput, ImageLayer, ImageOptions,
    ImageRef, IndexOptions,
};
pub use read::{read_config, read_index, read_manifest, resolve_manifest, Manifests};

use crate::digest::Digest;

/// Why an image could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    #[error("serialising {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("{what} {digest}: {message}")]
    Parse {
        what: &'static str,
        digest: Digest,
        message: String,
    },
    #[error("building {what}: {source}")]
    Spec {
        what: &'static str,
        source: oci_spec::OciSpecError,
    },
    #[error("created time {secs} (seconds since 1970) is outside years 0-9999")]
    CreatedOutOfRange { secs: i64 },
    #[error("history has {history} non-empty entries but the image has {layers} layers")]
    HistoryMismatch { history: usize, layers: usize },
    #[error("annotations need OCI media types (Docker manifests have none): {key}")]
    AnnotationsNeedOci { key: String },
    #[error("index lists platform {platform} twice")]
    DuplicatePlatform { platform: String },
    #[error("index entry {digest} has no platform")]
    MissingPlatform { digest: Digest },
    #[error("{digest} has media type {media_type:?}, expected {expected}")]
    UnexpectedMediaType {
        digest: Digest,
        media_type: String,
        expected: &'static str,
    },
    #[error("no manifest for platform {platform} in index {index}")]
    NoMatchingPlatform { platform: String, index: Digest },
    #[error(transparent)]
    Platform(#[from] crate::platform::PlatformConvError),
    #[error(transparent)]
    Digest(#[from] crate::digest::DigestError),
}
