//! Stitching a build whose tasks all succeeded: every platform's manifest was pushed by
//! digest by its worker; the leader writes the OCI index over them (from the task results
//! alone, no blob is read), pushes it by digest and then under each tag. A single-platform
//! build has no index: its manifest is pushed again under each tag.
//!
//! The index bytes are a pure function of the results in platform order (oci's one index
//! encoder, canonical JSON), so a new leader that redoes an interrupted stitch pushes the
//! very same digest, and a one-process farm writes the very bytes a farm pushes.

use slipway_farm::{BlobDescriptor, PushTarget, TaskResult};
use slipway_graph::{Digest, Platform};
use slipway_oci::image::{encode_index, ImageError, IndexOptions};
use slipway_oci::registry::manifest::DOCKER_MANIFEST;
use slipway_oci::registry::{
    parse_reference, RawManifest, Reference, RegistryClient, RegistryError,
};
use slipway_oci::MediaTypes;

/// What a build's tags point to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// One platform: its manifest.
    Manifest(BlobDescriptor),
    /// Several: an index document over the platforms' manifests.
    Index {
        descriptor: BlobDescriptor,
        bytes: Vec<u8>,
    },
}

impl Root {
    pub fn descriptor(&self) -> &BlobDescriptor {
        match self {
            Root::Manifest(d) => d,
            Root::Index { descriptor, .. } => descriptor,
        }
    }
}

/// Why a build could not be stitched.
#[derive(Debug, thiserror::Error)]
pub enum StitchError {
    #[error("the build has no task results to stitch")]
    NoResults,
    #[error("two task results for platform {platform}")]
    DuplicatePlatform { platform: String },
    #[error("encoding the index: {source}")]
    Encode { source: ImageError },
    #[error("the result for {platform}: {message}")]
    Result { platform: String, message: String },
    #[error("push target {repository:?}: {source}")]
    Reference {
        repository: String,
        source: RegistryError,
    },
    #[error("pushing {reference}: {source}")]
    Push {
        reference: String,
        source: RegistryError,
    },
    #[error("{reference}: the registry returned a manifest with digest {actual}")]
    DigestMismatch { reference: String, actual: String },
}

/// The root of a build from its results, ordered as `platforms` (the build's requested
/// order; results for unlisted platforms come after, by platform name).
pub fn plan_root(platforms: &[Platform], results: &[TaskResult]) -> Result<Root, StitchError> {
    let mut ordered: Vec<&TaskResult> = results.iter().collect();
    let rank = |p: &Platform| platforms.iter().position(|q| q == p).unwrap_or(usize::MAX);
    ordered.sort_by(|a, b| {
        rank(&a.platform)
            .cmp(&rank(&b.platform))
            .then_with(|| a.platform.to_string().cmp(&b.platform.to_string()))
    });
    for pair in ordered.windows(2) {
        if let [a, b] = pair {
            if a.platform == b.platform {
                return Err(StitchError::DuplicatePlatform {
                    platform: a.platform.to_string(),
                });
            }
        }
    }
    match ordered.as_slice() {
        [] => Err(StitchError::NoResults),
        [only] => Ok(Root::Manifest(only.manifest.clone())),
        many => {
            let docker = many
                .iter()
                .all(|r| r.manifest.media_type == DOCKER_MANIFEST);
            let media_types = if docker {
                MediaTypes::Docker
            } else {
                MediaTypes::Oci
            };
            let manifests = many
                .iter()
                .map(|r| manifest_descriptor(r))
                .collect::<Result<Vec<_>, _>>()?;
            let opts = IndexOptions {
                media_types,
                ..IndexOptions::default()
            };
            let bytes =
                encode_index(&manifests, &opts).map_err(|source| StitchError::Encode { source })?;
            let digest = Digest::of_bytes(&bytes);
            Ok(Root::Index {
                descriptor: BlobDescriptor {
                    media_type: media_types.index().to_string(),
                    digest,
                    size: bytes.len() as u64,
                },
                bytes,
            })
        }
    }
}

/// A task's manifest as an index entry: its descriptor with its platform.
fn manifest_descriptor(r: &TaskResult) -> Result<oci_spec::image::Descriptor, StitchError> {
    let bad = |message: String| StitchError::Result {
        platform: r.platform.to_string(),
        message,
    };
    let digest = r
        .manifest
        .digest
        .to_string()
        .parse::<slipway_oci::Digest>()
        .map_err(|e| bad(e.to_string()))?;
    let platform = slipway_oci::platform::to_oci(&r.platform).map_err(|e| bad(e.to_string()))?;
    let mut d = oci_spec::image::Descriptor::new(
        oci_spec::image::MediaType::from(r.manifest.media_type.as_str()),
        r.manifest.size,
        digest.to_oci(),
    );
    d.set_platform(Some(platform));
    Ok(d)
}

/// Pushes the root: an index by digest then under each tag; a single manifest (already
/// pushed by digest by its worker) is fetched by digest and pushed under each tag.
pub async fn push_root(
    client: &RegistryClient,
    target: &PushTarget,
    root: &Root,
) -> Result<BlobDescriptor, StitchError> {
    let repo = parse_reference(&target.repository).map_err(|source| StitchError::Reference {
        repository: target.repository.clone(),
        source,
    })?;
    let descriptor = root.descriptor();
    let at_digest = Reference::with_digest(
        repo.registry().to_string(),
        repo.repository().to_string(),
        descriptor.digest.to_string(),
    );
    let raw = match root {
        Root::Index { descriptor, bytes } => {
            let raw = RawManifest::new(&descriptor.media_type, bytes.clone());
            push(client, &at_digest, &raw).await?;
            raw
        }
        Root::Manifest(_) => {
            let pulled =
                client
                    .pull_manifest(&at_digest)
                    .await
                    .map_err(|source| StitchError::Push {
                        reference: at_digest.to_string(),
                        source,
                    })?;
            let raw = RawManifest::new(&pulled.media_type, pulled.bytes);
            if raw.digest() != descriptor.digest.as_str() {
                return Err(StitchError::DigestMismatch {
                    reference: at_digest.to_string(),
                    actual: raw.digest(),
                });
            }
            raw
        }
    };
    for tag in &target.tags {
        let tagged = Reference::with_tag(
            repo.registry().to_string(),
            repo.repository().to_string(),
            tag.clone(),
        );
        push(client, &tagged, &raw).await?;
    }
    Ok(descriptor.clone())
}

async fn push(
    client: &RegistryClient,
    reference: &Reference,
    raw: &RawManifest,
) -> Result<(), StitchError> {
    client
        .push_manifest(reference, raw)
        .await
        .map(|_| ())
        .map_err(|source| StitchError::Push {
            reference: reference.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_oci::registry::manifest::{Index, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};

    fn result(p: &Platform, media_type: &str, body: &str) -> TaskResult {
        let d = |bytes: &[u8]| BlobDescriptor {
            media_type: media_type.to_string(),
            digest: Digest::of_bytes(bytes),
            size: bytes.len() as u64,
        };
        TaskResult {
            platform: p.clone(),
            manifest: d(body.as_bytes()),
            config: d(b"config"),
            layers: vec![],
            cached: 0,
            executed: 1,
            cache: vec![],
        }
    }

    #[test]
    fn one_platform_is_its_manifest() {
        let amd = Platform::linux("amd64", "");
        let r = result(&amd, OCI_MANIFEST, "m");
        assert_eq!(
            plan_root(&[amd], std::slice::from_ref(&r)).unwrap(),
            Root::Manifest(r.manifest)
        );
    }

    #[test]
    fn several_platforms_make_an_index_in_requested_order() {
        let amd = Platform::linux("amd64", "");
        let arm = Platform::linux("arm", "v7");
        let a = result(&amd, OCI_MANIFEST, "a");
        let b = result(&arm, OCI_MANIFEST, "b");
        let platforms = [arm.clone(), amd.clone()];
        let root = plan_root(&platforms, &[a.clone(), b.clone()]).unwrap();
        let again = plan_root(&platforms, &[b.clone(), a.clone()]).unwrap();
        assert_eq!(root, again, "the index does not depend on result order");
        let Root::Index { descriptor, bytes } = root else {
            panic!("expected an index")
        };
        assert_eq!(descriptor.media_type, OCI_INDEX);
        assert_eq!(descriptor.size, bytes.len() as u64);
        assert_eq!(descriptor.digest, Digest::of_bytes(&bytes));
        let index: Index = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(index.schema_version, 2);
        let got: Vec<(String, Option<String>, String)> = index
            .manifests
            .iter()
            .map(|m| {
                let p = m.platform.clone().unwrap();
                (p.architecture, p.variant, m.digest.clone())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "arm".into(),
                    Some("v7".into()),
                    b.manifest.digest.to_string()
                ),
                ("amd64".into(), None, a.manifest.digest.to_string()),
            ]
        );
    }

    #[test]
    fn the_index_bytes_are_the_ones_an_oci_store_writes() {
        // One index encoder: what a farm leader pushes is what oci's write_index stores.
        let amd = Platform::linux("amd64", "");
        let arm = Platform::linux("arm64", "");
        let results = [
            result(&amd, OCI_MANIFEST, "a"),
            result(&arm, OCI_MANIFEST, "b"),
        ];
        let Root::Index { bytes, .. } = plan_root(&[amd, arm], &results).unwrap() else {
            panic!("expected an index")
        };
        let dir = tempfile::tempdir().unwrap();
        let store = slipway_oci::ContentStore::open(dir.path()).unwrap();
        let manifests: Vec<_> = results
            .iter()
            .map(|r| manifest_descriptor(r).unwrap())
            .collect();
        let (_, digest) =
            slipway_oci::image::write_index(&store, &manifests, &IndexOptions::default()).unwrap();
        assert_eq!(store.read_blob(&digest).unwrap(), bytes);
    }

    #[test]
    fn docker_manifests_make_a_manifest_list() {
        let amd = Platform::linux("amd64", "");
        let arm = Platform::linux("arm64", "");
        let root = plan_root(
            &[],
            &[
                result(&amd, DOCKER_MANIFEST, "a"),
                result(&arm, DOCKER_MANIFEST, "b"),
            ],
        )
        .unwrap();
        assert_eq!(root.descriptor().media_type, DOCKER_MANIFEST_LIST);
    }

    #[test]
    fn empty_and_duplicate_results_are_refused() {
        let amd = Platform::linux("amd64", "");
        assert!(matches!(plan_root(&[], &[]), Err(StitchError::NoResults)));
        let err = plan_root(
            &[],
            &[
                result(&amd, OCI_MANIFEST, "a"),
                result(&amd, OCI_MANIFEST, "b"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("linux/amd64"), "{err}");
    }
}
