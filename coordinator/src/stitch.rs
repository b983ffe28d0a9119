//! Stitching the per-platform images of a build into what is exported and pushed: one
//! manifest for a single platform, else an OCI index over the platforms' manifests; and the
//! push plan (blobs, then the manifests by digest, the root last).

use oci_spec::image::Descriptor;
use slipway_graph::Platform;
use slipway_oci::image::{read_index, read_manifest, write_index, ImageError, IndexOptions};
use slipway_oci::media::{classify, BlobKind};
use slipway_oci::registry::{self, LocalBlob, PushPlan, RawManifest};
use slipway_oci::{ContentStore, Digest, DigestError, MediaTypes, StoreError};
use std::collections::HashSet;

/// What the build's root is.
#[derive(Debug, Clone, PartialEq)]
pub enum RootPlan {
    /// One platform: its manifest is the root.
    Manifest(Box<Descriptor>),
    /// Several: an index over these manifests, in platform order as requested.
    Index(Vec<Descriptor>),
}

/// Why stitching failed.
#[derive(Debug, thiserror::Error)]
pub enum StitchError {
    #[error("the solve produced no image")]
    NoImages,
    #[error("the solve produced two images for platform {platform}")]
    DuplicatePlatform { platform: String },
    #[error("writing the index: {0}")]
    Image(#[from] ImageError),
    #[error("reading the content store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("{digest} has media type {media_type:?}: not a manifest or an index")]
    NotAManifest { digest: String, media_type: String },
}

/// Decides the root from the solved images (platform, manifest), kept in request order.
pub fn plan_root(images: &[(Platform, Descriptor)]) -> Result<RootPlan, StitchError> {
    let mut seen = HashSet::new();
    for (p, _) in images {
        if !seen.insert(p.clone()) {
            return Err(StitchError::DuplicatePlatform {
                platform: p.to_string(),
            });
        }
    }
    match images {
        [] => Err(StitchError::NoImages),
        [(_, only)] => Ok(RootPlan::Manifest(Box::new(only.clone()))),
        many => Ok(RootPlan::Index(
            many.iter().map(|(_, d)| d.clone()).collect(),
        )),
    }
}

/// Writes the root into `store` (the index, if any) and returns its descriptor.
pub fn write_root(
    store: &ContentStore,
    plan: &RootPlan,
    media_types: MediaTypes,
) -> Result<Descriptor, StitchError> {
    match plan {
        RootPlan::Manifest(d) => Ok((**d).clone()),
        RootPlan::Index(manifests) => {
            let opts = IndexOptions {
                media_types,
                ..IndexOptions::default()
            };
            Ok(write_index(store, manifests, &opts)?.0)
        }
    }
}

fn wire(d: &Descriptor) -> registry::Descriptor {
    registry::Descriptor::new(d.media_type().as_ref(), d.digest().as_ref(), d.size())
}

/// Everything a push of `root` sends: each manifest's config and layers (once), the
/// per-platform manifests by digest, and the root last, all with their stored bytes.
pub fn push_plan(store: &ContentStore, root: &Descriptor) -> Result<PushPlan, StitchError> {
    let root_digest = Digest::try_from(root.digest())?;
    let root_mt = root.media_type().to_string();
    let manifests = match classify(&root_mt) {
        BlobKind::Index => read_index(store, &root_digest)?.manifests().clone(),
        BlobKind::Manifest => Vec::new(),
        _ => {
            return Err(StitchError::NotAManifest {
                digest: root_digest.to_string(),
                media_type: root_mt,
            })
        }
    };
    let is_index = !manifests.is_empty();
    let manifests = if is_index {
        manifests
    } else {
        vec![root.clone()]
    };
    let mut seen = HashSet::new();
    let mut blobs = Vec::new();
    let mut children = Vec::new();
    for m in &manifests {
        let digest = Digest::try_from(m.digest())?;
        let manifest = read_manifest(store, &digest)?;
        for d in std::iter::once(manifest.config()).chain(manifest.layers()) {
            let blob = Digest::try_from(d.digest())?;
            if seen.insert(blob) {
                blobs.push(LocalBlob {
                    descriptor: wire(d),
                    path: store.blob_path(&blob),
                });
            }
        }
        if is_index {
            children.push(RawManifest::new(
                m.media_type().as_ref(),
                store.read_blob(&digest)?,
            ));
        }
    }
    Ok(PushPlan {
        blobs,
        children,
        root: RawManifest::new(&root_mt, store.read_blob(&root_digest)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_oci::image::{write_image, ImageInput, ImageLayer, ImageOptions};

    fn image(store: &ContentStore, platform: &Platform, layer: &[u8]) -> Descriptor {
        let digest = store.put_bytes(layer).unwrap();
        let input = ImageInput {
            platform: platform.clone(),
            config: None,
            author: None,
            layers: vec![ImageLayer {
                descriptor: Descriptor::new(
                    oci_spec::image::MediaType::ImageLayer,
                    layer.len() as u64,
                    digest.to_oci(),
                ),
                diff_id: digest,
            }],
            history: vec![],
        };
        write_image(store, &input, &ImageOptions::default())
            .unwrap()
            .manifest
    }

    #[test]
    fn one_platform_is_a_manifest_several_an_index_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let amd = Platform::linux("amd64", "");
        let arm = Platform::linux("arm64", "");
        let a = image(&store, &amd, b"shared");
        let b = image(&store, &arm, b"shared");
        assert_eq!(
            plan_root(&[(amd.clone(), a.clone())]).unwrap(),
            RootPlan::Manifest(Box::new(a.clone()))
        );
        let plan = plan_root(&[(arm.clone(), b.clone()), (amd.clone(), a.clone())]).unwrap();
        assert_eq!(plan, RootPlan::Index(vec![b.clone(), a.clone()]));
        assert!(matches!(plan_root(&[]), Err(StitchError::NoImages)));
        assert!(matches!(
            plan_root(&[(amd.clone(), a.clone()), (amd.clone(), b.clone())]),
            Err(StitchError::DuplicatePlatform { .. })
        ));

        let root = write_root(&store, &plan, MediaTypes::Oci).unwrap();
        let push = push_plan(&store, &root).unwrap();
        assert_eq!(push.root.digest(), root.digest().to_string());
        let children: Vec<String> = push.children.iter().map(|c| c.digest()).collect();
        assert_eq!(
            children,
            vec![b.digest().to_string(), a.digest().to_string()]
        );
        // the shared layer once, plus two configs
        assert_eq!(push.blobs.len(), 3);
        assert!(push.blobs.iter().all(|b| b.path.is_file()));

        let single = push_plan(&store, &a).unwrap();
        assert!(single.children.is_empty());
        assert_eq!(single.root.digest(), a.digest().to_string());
        assert_eq!(single.blobs.len(), 2);
    }
}
