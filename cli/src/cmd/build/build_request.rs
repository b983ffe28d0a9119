//! What `slipway build` asks of the farm, before it becomes a `BuildSpec` (the client side:
//! local paths, secret sources, the export plan's inputs).

use slipway_coordinator::OutputSpec;
use slipway_graph::{NetworkMode, Platform};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use slipway_worker::{SecretSource, SshSource};

/// A `--build-context name=...` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContextSource {
    /// A directory on the client.
    Dir(PathBuf),
    /// An image (`docker-image://ref`).
    Image(String),
}

/// One build.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// Its name in error messages (`Dockerfile`, `build/app.Dockerfile`).
    pub dockerfile_name: String,
    /// The build context directory; `None` = an empty context (Dockerfile from stdin).
    pub context: Option<PathBuf>,
    /// `.dockerignore` patterns for the context.
    pub context_excludes: Vec<String>,
    /// Target platforms; empty = the machine's own.
    pub platforms: Vec<Platform>,
    pub build_args: BTreeMap<String, String>,
    /// Stage to build; empty = the last.
    pub target: String,
    pub named_contexts: BTreeMap<String, NamedContextSource>,
    pub secrets: BTreeMap<String, SecretSource>,
    pub ssh: BTreeMap<String, SshSource>,
    pub outputs: Vec<OutputSpec>,
    /// `-t` names: used by outputs that name no image.
    pub tags: Vec<String>,
    pub no_cache: bool,
    pub pull: bool,
    /// `--label`: set on every output image's config.
    pub labels: BTreeMap<String, String>,
    /// `--network`: the default network of RUN steps.
    pub network: NetworkMode,
    /// `--allow`: entitlements the build asks for.
    pub allow: std::collections::BTreeSet<slipway_graph::Entitlement>,
    pub source_date_epoch: Option<i64>,
    /// `--cache-from`, in order.
    pub cache_from: Vec<slipway_farm::cache::CacheImport>,
    /// `--cache-to`.
    pub cache_to: Vec<slipway_farm::cache::CacheExport>,
}
