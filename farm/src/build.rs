//! Builds as submitted by a client and as the farm tracks them.

use crate::cache::{CacheExport, CacheExportTarget, CacheImport};
use crate::{BlobDescriptor, BuildId, FarmError};
use serde::{Deserialize, Serialize};
use slipway_graph::{Digest, Platform};
use std::collections::BTreeMap;

/// The build context, uploaded by the client to the data plane before the build is
/// submitted: one content-addressed tar, or a manifest listing the context's entries whose
/// file contents are blobs of their own (so a second build uploads only what changed); or,
/// in a one-process farm, the client's directory itself, read in place by the worker of
/// that process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextRef {
    /// sha256 of the tar or of the manifest; for a directory, of its path (an identity,
    /// not a content address).
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub kind: ContextKind,
    /// The directory of a [`ContextKind::Directory`] context.
    #[serde(default)]
    pub path: Option<std::path::PathBuf>,
}

impl ContextRef {
    /// A directory read in place (one-process farms only).
    pub fn directory(path: std::path::PathBuf) -> ContextRef {
        ContextRef {
            digest: Digest::of_bytes(path.as_os_str().as_encoded_bytes()),
            size: 0,
            kind: ContextKind::Directory,
            path: Some(path),
        }
    }
}

/// What the blob a [`ContextRef`] names is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextKind {
    /// One tar of the whole context.
    #[default]
    Tar,
    /// A context manifest (`slipway_fsutil::ContextManifest`, JSON); every file's content
    /// is a blob named by its sha256.
    Manifest,
    /// A directory on the worker's own machine ([`ContextRef::path`]): only the worker of a
    /// one-process farm, running in the client's process, accepts it.
    Directory,
}

impl ContextKind {
    /// The wire name (`tar`, `manifest`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContextKind::Tar => "tar",
            ContextKind::Manifest => "manifest",
            ContextKind::Directory => "directory",
        }
    }
}

/// A `--build-context NAME=...` of a farm build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamedContext {
    /// `docker-image://ref`: resolved by the coordinator like a `FROM`.
    Image(String),
    /// A client directory, uploaded like the main context.
    Local(ContextRef),
}

/// Where platform images and the index are pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushTarget {
    /// `registry/repository` without tag or digest, e.g. `127.0.0.1:5000/app`.
    pub repository: String,
    /// Tags pushed last, onto the index, e.g. `1`, `latest`.
    pub tags: Vec<String>,
    /// Reached over plain HTTP (`registry.insecure=true`).
    #[serde(default)]
    pub insecure: bool,
}

/// Everything a client submits: the Dockerfile is lowered by the coordinator's leader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSpec {
    /// A name the client gives (shown in `builds ls`), e.g. the context directory.
    pub name: String,
    pub dockerfile: String,
    /// Shown in error messages, e.g. `Dockerfile`.
    pub dockerfile_name: String,
    /// Target platforms; empty means the client's platform (`client_platform`, else
    /// `linux/amd64`).
    pub platforms: Vec<Platform>,
    /// The platform of the machine the client runs on: the default target platform, and
    /// the preferred `BUILDPLATFORM` when the farm runs it natively.
    #[serde(default)]
    pub client_platform: Option<Platform>,
    /// The context's `.dockerignore` patterns: they enter the context vertex (and so its
    /// cache key) alike whether the context was uploaded without those files or is read
    /// in place.
    #[serde(default)]
    pub context_excludes: Vec<String>,
    /// Docker media types (`oci-mediatypes=false`) for the images and the index instead of
    /// OCI's.
    #[serde(default)]
    pub docker_media_types: bool,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub no_cache: bool,
    pub pull: bool,
    pub source_date_epoch: Option<i64>,
    pub context: Option<ContextRef>,
    /// Where the result is pushed (each repository with its tags); empty: it stays in the
    /// workers' caches (and the client's file outputs).
    #[serde(default)]
    pub pushes: Vec<PushTarget>,
    /// `--cache-from`: caches the workers consult after the farm's shared index.
    #[serde(default)]
    pub cache_from: Vec<CacheImport>,
    /// `--cache-to`: where the build's cache records are exported.
    #[serde(default)]
    pub cache_to: Vec<CacheExport>,
    /// `--build-context NAME=...`.
    #[serde(default)]
    pub named_contexts: BTreeMap<String, NamedContext>,
    /// `--network`: the mode of every RUN that does not set its own.
    #[serde(default)]
    pub network: slipway_graph::NetworkMode,
    /// `--allow`: the entitlements the build asks for.
    #[serde(default)]
    pub allow: std::collections::BTreeSet<slipway_graph::Entitlement>,
}

impl BuildSpec {
    pub fn validate(&self) -> Result<(), FarmError> {
        let bad = |reason: String| FarmError::InvalidBuild { reason };
        if self.dockerfile.trim().is_empty() {
            return Err(bad(format!("{} is empty", self.dockerfile_name)));
        }
        for (name, ctx) in &self.named_contexts {
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '=') {
                return Err(bad(format!("build context name {name:?} is not valid")));
            }
            if matches!(ctx, NamedContext::Image(r) if r.trim().is_empty()) {
                return Err(bad(format!("build context {name}: empty image reference")));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.platforms {
            if !seen.insert(p) {
                return Err(bad(format!("platform {p} is given twice")));
            }
        }
        for push in &self.pushes {
            if push.repository.is_empty() || push.repository.contains('@') {
                return Err(bad(format!(
                    "push repository {:?} must be registry/name without a digest",
                    push.repository
                )));
            }
        }
        for import in &self.cache_from {
            match import {
                // Only a one-process farm reads it (the coordinator checks which it is).
                CacheImport::Local { .. } | CacheImport::Records { .. } => {}
                CacheImport::Registry { reference } => check_cache_ref("--cache-from", reference)?,
            }
        }
        for export in &self.cache_to {
            match &export.target {
                // Written by the client from the records and blobs it fetches afterwards.
                CacheExportTarget::Local { .. } => {}
                // Written into each platform image's config by the worker that built it.
                CacheExportTarget::Inline => {}
                CacheExportTarget::Registry { reference } => {
                    check_cache_ref("--cache-to", reference)?
                }
            }
        }
        Ok(())
    }
}

fn check_cache_ref(flag: &str, reference: &str) -> Result<(), FarmError> {
    if reference.trim().is_empty() {
        return Err(FarmError::InvalidBuild {
            reason: format!("{flag} type=registry needs ref=<registry/repository:tag>"),
        });
    }
    Ok(())
}

/// A build's lifecycle in the replicated state. Transitions:
/// `Queued → Running → Stitching → Succeeded`, and from any non-final state to `Failed` or
/// `Canceled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BuildState {
    Queued,
    Running,
    /// Every task succeeded; the leader is pushing the index and tags.
    Stitching,
    Succeeded {
        /// The root of the result: the index (pushed when the build pushed) or the single
        /// manifest.
        index: Option<BlobDescriptor>,
    },
    Failed {
        failure: crate::Failure,
    },
    Canceled,
}

impl BuildState {
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            BuildState::Succeeded { .. } | BuildState::Failed { .. } | BuildState::Canceled
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            BuildState::Queued => "queued",
            BuildState::Running => "running",
            BuildState::Stitching => "stitching",
            BuildState::Succeeded { .. } => "succeeded",
            BuildState::Failed { .. } => "failed",
            BuildState::Canceled => "canceled",
        }
    }
}

/// One line of `slipway builds ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSummary {
    pub id: BuildId,
    pub name: String,
    pub platforms: Vec<Platform>,
    pub state: BuildState,
    pub submitted_ms: u64,
    pub finished_ms: Option<u64>,
    pub tasks_total: u32,
    pub tasks_done: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_empty_dockerfile_and_duplicate_platforms() {
        let mut s = BuildSpec {
            dockerfile: "FROM scratch\n".into(),
            dockerfile_name: "Dockerfile".into(),
            ..BuildSpec::default()
        };
        assert!(s.validate().is_ok());
        s.platforms = vec![Platform::linux("amd64", ""), Platform::linux("amd64", "")];
        assert!(s.validate().unwrap_err().to_string().contains("twice"));
        s.platforms.clear();
        s.dockerfile = " ".into();
        assert!(s.validate().unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn validate_checks_cache_references() {
        let ok = BuildSpec {
            dockerfile: "FROM scratch\n".into(),
            dockerfile_name: "Dockerfile".into(),
            cache_from: vec![CacheImport::Registry {
                reference: "reg/app:cache".into(),
            }],
            cache_to: vec![CacheExport::new(CacheExportTarget::Registry {
                reference: "reg/app:cache".into(),
            })],
            ..BuildSpec::default()
        };
        assert!(ok.validate().is_ok());
        let mut s = ok.clone();
        s.cache_from.push(CacheImport::Local { src: "/c".into() });
        assert!(s.validate().is_ok(), "a one-process farm reads it in place");
        let mut s = ok.clone();
        s.cache_to = vec![CacheExport::new(CacheExportTarget::Local {
            dest: "/c".into(),
        })];
        assert!(s.validate().is_ok(), "the client writes local caches");
        let mut s = ok.clone();
        s.cache_to = vec![CacheExport::new(CacheExportTarget::Inline)];
        assert!(s.validate().is_ok(), "inline cache is the workers'");
        let mut s = ok;
        s.cache_from = vec![CacheImport::Registry {
            reference: " ".into(),
        }];
        assert!(s.validate().unwrap_err().to_string().contains("ref="));
    }

    #[test]
    fn spec_round_trips_through_json() {
        let s = BuildSpec {
            name: "app".into(),
            dockerfile: "FROM scratch\n".into(),
            platforms: vec![Platform::linux("arm", "v7")],
            ..BuildSpec::default()
        };
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<BuildSpec>(&j).unwrap(), s);
    }
}
