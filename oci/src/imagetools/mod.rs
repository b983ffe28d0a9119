//! `imagetools`: inspect manifests and indexes in a registry, and stitch indexes from existing
//! manifests (what `docker buildx imagetools inspect|create` do). No flag parsing here: the CLI
//! fills the option structs.

mod config;
mod create;
mod inspect;
mod render;

pub use config::ImageConfigSummary;
pub use create::{create, CreateOptions, CreateReport};
pub use inspect::{inspect, InspectOptions, InspectedContent, InspectedEntry, Inspection};

use crate::registry::RegistryError;

/// Why an imagetools operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImagetoolsError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("imagetools create: no source given")]
    NoSources,
    #[error("imagetools create: no target given (pass a tag, or use dry-run)")]
    NoTargets,
    #[error("{reference}: image config blob is {size} bytes, more than the {limit} bytes read for a summary")]
    ConfigTooLarge {
        reference: String,
        size: u64,
        limit: u64,
    },
    #[error("{reference}: image config is not valid JSON: {source}")]
    BadConfig {
        reference: String,
        source: serde_json::Error,
    },
    #[error("cannot serialise the index for {target}: {source}")]
    Serialise {
        target: String,
        source: serde_json::Error,
    },
}
