//! Pushing a task's platform image by digest: its config and layers from the worker's
//! content store, then the manifest, no tags (the coordinator tags the index).

use slipway_oci::image::{read_manifest, ImageError};
use slipway_oci::media::{classify, BlobKind};
use slipway_oci::registry::{
    self, parse_reference, LocalBlob, PushOptions, PushPlan, RawManifest, RegistryClient,
    RegistryError,
};
use slipway_oci::{ContentStore, Digest, DigestError, StoreError};

use oci_spec::image::Descriptor;

/// Why a task's image could not be pushed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{digest} has media type {media_type:?}: a task pushes one image manifest")]
    NotAManifest { digest: String, media_type: String },
    #[error("reading manifest {digest} from the content store: {source}")]
    Image {
        digest: String,
        #[source]
        source: ImageError,
    },
    #[error("reading {digest} from the content store: {source}")]
    Store {
        digest: String,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("pushing to {repository}: {source}")]
    Registry {
        repository: String,
        #[source]
        source: Box<RegistryError>,
    },
}

fn wire(d: &Descriptor) -> registry::Descriptor {
    registry::Descriptor::new(d.media_type().as_ref(), d.digest().as_ref(), d.size())
}

/// The blobs (config, layers) and the manifest a push of `manifest` sends.
pub fn manifest_push_plan(
    store: &ContentStore,
    manifest: &Descriptor,
) -> Result<PushPlan, PushError> {
    let digest = Digest::try_from(manifest.digest())?;
    let media_type = manifest.media_type().to_string();
    if classify(&media_type) != BlobKind::Manifest {
        return Err(PushError::NotAManifest {
            digest: digest.to_string(),
            media_type,
        });
    }
    let parsed = read_manifest(store, &digest).map_err(|source| PushError::Image {
        digest: digest.to_string(),
        source,
    })?;
    let mut blobs: Vec<LocalBlob> = Vec::new();
    for d in std::iter::once(parsed.config()).chain(parsed.layers()) {
        let blob = Digest::try_from(d.digest())?;
        if blobs
            .iter()
            .any(|b| b.descriptor.digest == d.digest().to_string())
        {
            continue;
        }
        blobs.push(LocalBlob {
            descriptor: wire(d),
            path: store.blob_path(&blob),
        });
    }
    let bytes = store
        .read_blob(&digest)
        .map_err(|source| PushError::Store {
            digest: digest.to_string(),
            source,
        })?;
    Ok(PushPlan {
        blobs,
        children: Vec::new(),
        root: RawManifest::new(&media_type, bytes),
    })
}

/// Pushes `manifest` (and what it references) to `repository` by digest; returns the
/// pushed digest. Not `Send` (see [`push_detached`]).
pub async fn push_by_digest(
    client: &RegistryClient,
    store: &ContentStore,
    repository: &str,
    manifest: &Descriptor,
) -> Result<String, PushError> {
    let registry_err = |source| PushError::Registry {
        repository: repository.to_string(),
        source: Box::new(source),
    };
    let repo = parse_reference(repository).map_err(registry_err)?;
    let plan = manifest_push_plan(store, manifest)?;
    let opts = PushOptions {
        tags: Vec::new(),
        mount_from: Vec::new(),
    };
    let report = client
        .push(&repo, &plan, &opts)
        .await
        .map_err(registry_err)?;
    Ok(report.digest)
}

/// [`push_by_digest`] on a blocking thread driving the current runtime: rustc cannot prove
/// the registry client's push future `Send` (its stream closures hit
/// rust-lang/rust#102211), so it cannot be held across an await in a spawned task. The
/// push's own IO still runs on the runtime. `cancel` abandons the push.
/// With `insecure` (`registry.insecure=true`), the repository's registry is reached over
/// plain HTTP.
pub async fn push_detached(
    worker: slipway_worker::Worker,
    repository: String,
    insecure: bool,
    manifest: Descriptor,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<String, PushDetachedError> {
    let handle = tokio::runtime::Handle::current();
    let joined = tokio::task::spawn_blocking(move || {
        handle.block_on(async {
            let plain = match parse_reference(&repository) {
                Ok(r) if insecure => Some(worker.registry().with_plain_http(r.registry())),
                _ => None,
            };
            let client = plain.as_ref().unwrap_or(worker.registry());
            let push = push_by_digest(client, worker.store(), &repository, &manifest);
            tokio::select! {
                r = push => r.map_err(PushDetachedError::Push),
                _ = cancel.cancelled() => Err(PushDetachedError::Cancelled),
            }
        })
    })
    .await;
    joined.unwrap_or_else(|e| Err(PushDetachedError::Panicked(e.to_string())))
}

/// Why a detached push did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PushDetachedError {
    #[error(transparent)]
    Push(PushError),
    #[error("the push was cancelled")]
    Cancelled,
    #[error("the push thread failed: {0}")]
    Panicked(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_graph::Platform;
    use slipway_oci::image::{write_image, ImageInput, ImageLayer, ImageOptions};

    #[test]
    fn plan_holds_config_and_layers_once_and_the_manifest_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let layer = store.put_bytes(b"layer").unwrap();
        let desc = Descriptor::new(oci_spec::image::MediaType::ImageLayer, 5, layer.to_oci());
        let input = ImageInput {
            platform: Platform::linux("arm64", ""),
            config: None,
            author: None,
            layers: vec![
                ImageLayer {
                    descriptor: desc.clone(),
                    diff_id: layer,
                },
                ImageLayer {
                    descriptor: desc,
                    diff_id: layer,
                },
            ],
            history: vec![],
        };
        let manifest = write_image(&store, &input, &ImageOptions::default())
            .unwrap()
            .manifest;
        let plan = manifest_push_plan(&store, &manifest).unwrap();
        assert_eq!(plan.blobs.len(), 2, "config + the layer once");
        assert!(plan.blobs.iter().all(|b| b.path.is_file()));
        assert!(plan.children.is_empty());
        assert_eq!(plan.root.digest(), manifest.digest().to_string());

        let cfg = Descriptor::new(
            oci_spec::image::MediaType::ImageConfig,
            manifest.size(),
            manifest.digest().clone(),
        );
        assert!(matches!(
            manifest_push_plan(&store, &cfg),
            Err(PushError::NotAManifest { .. })
        ));
    }
}
