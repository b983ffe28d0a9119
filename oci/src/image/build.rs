//! Writing configs, manifests and indexes into the content store.

use super::annotations::OciAnnotation;
use super::json::{canonical_json, rfc3339};
use super::ImageError;
use crate::digest::Digest;
use crate::media::MediaTypes;
use crate::platform::{from_oci, to_oci};
use crate::store::ContentStore;
use oci_spec::image::{
    Arch, Config, Descriptor, HistoryBuilder, ImageConfigurationBuilder, ImageIndexBuilder,
    ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use slipway_graph::Platform;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Options for one platform's image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageOptions {
    pub media_types: MediaTypes,
    /// SOURCE_DATE_EPOCH: the config's `created` and history times (unless `created` is set).
    pub source_date_epoch: Option<i64>,
    /// An explicit RFC 3339 `created` time.
    pub created: Option<String>,
    /// Manifest annotations (any keys).
    pub annotations: BTreeMap<String, String>,
    /// Add `org.opencontainers.image.created` with the image's created time.
    pub annotate_created: bool,
}

impl ImageOptions {
    pub fn annotate(mut self, key: OciAnnotation, value: impl Into<String>) -> Self {
        self.annotations.insert(key.key().to_string(), value.into());
        self
    }
}

/// Options for a multi-platform index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexOptions {
    pub media_types: MediaTypes,
    pub annotations: BTreeMap<String, String>,
}

/// A layer of the image: its (compressed) blob descriptor and its diffID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLayer {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
}

/// One history line (`created_by` is the Dockerfile step).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryEntry {
    pub created_by: String,
    pub comment: Option<String>,
    /// The step changed no files (ENV, CMD...): no layer belongs to it.
    pub empty_layer: bool,
}

/// What one platform's image is made of.
#[derive(Debug, Clone)]
pub struct ImageInput {
    pub platform: Platform,
    /// The runtime config (Env, Cmd, Entrypoint, User, WorkingDir, Labels...).
    pub config: Option<Config>,
    pub author: Option<String>,
    pub layers: Vec<ImageLayer>,
    pub history: Vec<HistoryEntry>,
}

/// A written image: the manifest (with its platform) and the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub manifest: Descriptor,
    pub manifest_digest: Digest,
    pub config: Descriptor,
    pub config_digest: Digest,
}

fn created_time(opts: &ImageOptions) -> Result<String, ImageError> {
    if let Some(c) = &opts.created {
        return Ok(c.clone());
    }
    let secs = opts.source_date_epoch.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    rfc3339(secs).ok_or(ImageError::CreatedOutOfRange { secs })
}

fn spec(what: &'static str) -> impl FnOnce(oci_spec::OciSpecError) -> ImageError {
    move |source| ImageError::Spec { what, source }
}

fn json(what: &'static str) -> impl FnOnce(serde_json::Error) -> ImageError {
    move |source| ImageError::Json { what, source }
}

/// Writes the config and manifest of one image into `store`.
pub fn write_image(
    store: &ContentStore,
    input: &ImageInput,
    opts: &ImageOptions,
) -> Result<ImageRef, ImageError> {
    let non_empty = input.history.iter().filter(|h| !h.empty_layer).count();
    if !input.history.is_empty() && non_empty != input.layers.len() {
        return Err(ImageError::HistoryMismatch {
            history: non_empty,
            layers: input.layers.len(),
        });
    }
    let mt = opts.media_types;
    let mut annotations = opts.annotations.clone();
    let created = created_time(opts)?;
    if opts.annotate_created {
        annotations.insert(OciAnnotation::Created.key().into(), created.clone());
    }
    if mt == MediaTypes::Docker {
        if let Some(key) = annotations.keys().next() {
            return Err(ImageError::AnnotationsNeedOci { key: key.clone() });
        }
    }
    let history = input
        .history
        .iter()
        .map(|h| {
            let mut b = HistoryBuilder::default()
                .created(created.clone())
                .created_by(h.created_by.clone());
            if let Some(c) = &h.comment {
                b = b.comment(c.clone());
            }
            if h.empty_layer {
                b = b.empty_layer(true);
            }
            b.build().map_err(spec("history"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            input
                .layers
                .iter()
                .map(|l| l.diff_id.to_string())
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(spec("rootfs"))?;
    let p = &input.platform;
    let mut cb = ImageConfigurationBuilder::default()
        .created(created.clone())
        .architecture(Arch::from(p.architecture.as_str()))
        .os(Os::from(p.os.as_str()))
        .rootfs(rootfs)
        .history(history);
    if !p.variant.is_empty() {
        cb = cb.variant(p.variant.clone());
    }
    if let Some(c) = &input.config {
        cb = cb.config(c.clone());
    }
    if let Some(a) = &input.author {
        cb = cb.author(a.clone());
    }
    let config = cb.build().map_err(spec("config"))?;
    let config_bytes = canonical_json(&config).map_err(json("config"))?;
    let config_digest = store.put_bytes(&config_bytes)?;
    let config_desc = Descriptor::new(
        mt.config().into(),
        config_bytes.len() as u64,
        config_digest.to_oci(),
    );

    let mut layers = Vec::with_capacity(input.layers.len());
    for l in &input.layers {
        let mut d = l.descriptor.clone();
        d.set_media_type(mt.convert_layer(d.media_type().as_ref())?.as_str().into());
        layers.push(d);
    }
    let mut mb = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::from(mt.manifest()))
        .config(config_desc.clone())
        .layers(layers);
    if !annotations.is_empty() {
        mb = mb.annotations(annotations.into_iter().collect::<HashMap<_, _>>());
    }
    let manifest = mb.build().map_err(spec("manifest"))?;
    let bytes = canonical_json(&manifest).map_err(json("manifest"))?;
    let manifest_digest = store.put_bytes(&bytes)?;
    let mut manifest_desc = Descriptor::new(
        mt.manifest().into(),
        bytes.len() as u64,
        manifest_digest.to_oci(),
    );
    manifest_desc.set_platform(Some(to_oci(p)?));
    Ok(ImageRef {
        manifest: manifest_desc,
        manifest_digest,
        config: config_desc,
        config_digest,
    })
}

/// The bytes of an index over `manifests` (descriptors with platforms, e.g.
/// [`ImageRef::manifest`]): canonical JSON, so equal manifests give one digest wherever the
/// index is made (an embedded build's store, a farm leader's push, a client's file output).
pub fn encode_index(manifests: &[Descriptor], opts: &IndexOptions) -> Result<Vec<u8>, ImageError> {
    let mt = opts.media_types;
    if mt == MediaTypes::Docker {
        if let Some(key) = opts.annotations.keys().next() {
            return Err(ImageError::AnnotationsNeedOci { key: key.clone() });
        }
    }
    let mut seen = HashSet::new();
    for m in manifests {
        let digest = Digest::try_from(m.digest())?;
        let platform = m
            .platform()
            .as_ref()
            .ok_or(ImageError::MissingPlatform { digest })?;
        let normal = from_oci(platform);
        if !seen.insert(normal.clone()) {
            return Err(ImageError::DuplicatePlatform {
                platform: normal.to_string(),
            });
        }
    }
    let mut ib = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::from(mt.index()))
        .manifests(manifests.to_vec());
    if !opts.annotations.is_empty() {
        ib = ib.annotations(
            opts.annotations
                .clone()
                .into_iter()
                .collect::<HashMap<_, _>>(),
        );
    }
    let index = ib.build().map_err(spec("index"))?;
    canonical_json(&index).map_err(json("index"))
}

/// Writes an index over `manifests` ([`encode_index`]) into `store`.
pub fn write_index(
    store: &ContentStore,
    manifests: &[Descriptor],
    opts: &IndexOptions,
) -> Result<(Descriptor, Digest), ImageError> {
    let mt = opts.media_types;
    let bytes = encode_index(manifests, opts)?;
    let digest = store.put_bytes(&bytes)?;
    Ok((
        Descriptor::new(mt.index().into(), bytes.len() as u64, digest.to_oci()),
        digest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(store: &ContentStore) -> ImageInput {
        let blob = store.put_bytes(b"not really a layer").unwrap();
        let desc = Descriptor::new(crate::media::OCI_LAYER_GZIP.into(), 18, blob.to_oci());
        ImageInput {
            platform: "linux/arm/v7".parse().unwrap(),
            config: None,
            author: None,
            layers: vec![ImageLayer {
                descriptor: desc,
                diff_id: Digest::of(b"tar"),
            }],
            history: vec![HistoryEntry {
                created_by: "RUN x".into(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn same_input_same_digests_and_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let opts = ImageOptions {
            source_date_epoch: Some(0),
            ..Default::default()
        }
        .annotate(OciAnnotation::Revision, "abc");
        let a = write_image(&store, &input(&store), &opts).unwrap();
        let b = write_image(&store, &input(&store), &opts).unwrap();
        assert_eq!(a, b);
        let config = crate::image::read_config(&store, &a.config_digest).unwrap();
        assert_eq!(config.created().as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(config.variant().as_deref(), Some("v7"));
        assert_eq!(
            config.rootfs().diff_ids(),
            &vec![Digest::of(b"tar").to_string()]
        );
        let m = crate::image::read_manifest(&store, &a.manifest_digest).unwrap();
        assert_eq!(
            m.annotations().as_ref().unwrap()["org.opencontainers.image.revision"],
            "abc"
        );
        let bytes = store.read_blob(&a.manifest_digest).unwrap();
        assert_eq!(Digest::of(&bytes), a.manifest_digest);
    }

    #[test]
    fn docker_media_types_convert_layers_and_refuse_annotations() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let opts = ImageOptions {
            media_types: MediaTypes::Docker,
            ..Default::default()
        };
        let img = write_image(&store, &input(&store), &opts).unwrap();
        let m = crate::image::read_manifest(&store, &img.manifest_digest).unwrap();
        assert_eq!(
            m.layers()[0].media_type().to_string(),
            crate::media::DOCKER_LAYER_GZIP
        );
        assert_eq!(
            m.config().media_type().to_string(),
            crate::media::DOCKER_CONFIG
        );
        let bad = opts.annotate(OciAnnotation::Source, "x");
        assert!(matches!(
            write_image(&store, &input(&store), &bad),
            Err(ImageError::AnnotationsNeedOci { .. })
        ));
    }

    #[test]
    fn history_must_match_layers_and_index_refuses_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let mut i = input(&store);
        i.history.push(HistoryEntry {
            created_by: "RUN y".into(),
            ..Default::default()
        });
        let err = write_image(&store, &i, &ImageOptions::default()).unwrap_err();
        assert!(matches!(
            err,
            ImageError::HistoryMismatch {
                history: 2,
                layers: 1
            }
        ));
        let img = write_image(&store, &input(&store), &ImageOptions::default()).unwrap();
        let err = write_index(
            &store,
            &[img.manifest.clone(), img.manifest],
            &IndexOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ImageError::DuplicatePlatform { .. }));
    }
}
