//! Base-image metadata. The frontend does no IO: the caller hands it an
//! [`ImageMetaResolver`] that knows (or fetches) image configs.

use slipway_graph::{Digest, ImageConfig, Platform};
use std::collections::BTreeMap;

/// What the frontend needs to know about a base image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageMeta {
    /// The image config (Env, WorkingDir, User, Cmd, Entrypoint, Shell, OnBuild, history...).
    pub config: ImageConfig,
    /// The manifest digest the reference resolved to, when known; it pins the image source.
    pub digest: Option<Digest>,
    /// True when the image has no layers (it then lowers like `scratch`).
    pub empty_rootfs: bool,
}

/// Why an image could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{reference}: not found")]
    NotFound { reference: String },
    #[error("{reference}: no match for platform {platform} in the manifest list")]
    NoMatchingPlatform { reference: String, platform: String },
    #[error("{reference}: pull access denied")]
    AccessDenied { reference: String },
    #[error("{reference}: {message}")]
    Registry { reference: String, message: String },
}

/// Resolves a normalised reference (`docker.io/library/alpine:3.20`) for a platform.
pub trait ImageMetaResolver {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ImageMeta, ResolveError>;
}

/// A resolver that reports an empty config (no Env, no WorkingDir, no ONBUILD...) and no
/// digest for every image. For debugging and tests only: the lowered graph then misses
/// whatever the real base images would have contributed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBaseConfig;

impl ImageMetaResolver for NoBaseConfig {
    fn resolve(&self, _reference: &str, _platform: &Platform) -> Result<ImageMeta, ResolveError> {
        Ok(ImageMeta::default())
    }
}

/// A resolver backed by a fixed table, keyed by normalised reference; an entry for a
/// specific platform (`ref` + platform) wins over a platform-independent one.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    any_platform: BTreeMap<String, ImageMeta>,
    per_platform: BTreeMap<(String, Platform), ImageMeta>,
}

impl StaticResolver {
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Registers `meta` for `reference` (normalised form) on every platform.
    pub fn insert(&mut self, reference: &str, meta: ImageMeta) {
        self.any_platform.insert(reference.to_string(), meta);
    }

    /// Registers `meta` for `reference` on `platform` only.
    pub fn insert_for(&mut self, reference: &str, platform: Platform, meta: ImageMeta) {
        self.per_platform
            .insert((reference.to_string(), platform), meta);
    }
}

impl ImageMetaResolver for StaticResolver {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ImageMeta, ResolveError> {
        if let Some(m) = self
            .per_platform
            .get(&(reference.to_string(), platform.clone()))
        {
            return Ok(m.clone());
        }
        if let Some(m) = self.any_platform.get(reference) {
            return Ok(m.clone());
        }
        if self.per_platform.keys().any(|(r, _)| r == reference) {
            return Err(ResolveError::NoMatchingPlatform {
                reference: reference.to_string(),
                platform: platform.to_string(),
            });
        }
        Err(ResolveError::NotFound {
            reference: reference.to_string(),
        })
    }
}
