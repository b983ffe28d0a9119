//! What a build returns, and buildx's `--metadata-file` keys for it.

use oci_spec::image::Descriptor;
use serde_json::{json, Map, Value};
use slipway_graph::Platform;

/// One platform's image.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformImage {
    pub platform: Platform,
    pub manifest: Descriptor,
    pub config: Descriptor,
}

/// The outcome of a build.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildResult {
    /// `slipway/embedded/<build id>`.
    pub build_ref: String,
    /// The image manifest (one platform) or the index (several).
    pub root: Descriptor,
    pub images: Vec<PlatformImage>,
    /// Image names of the build.
    pub names: Vec<String>,
    /// Repositories pushed to (`registry/repo`).
    pub pushed: Vec<String>,
}

impl BuildResult {
    /// The digest `--iidfile` records: the pushed/exported root (manifest or index).
    pub fn image_id(&self) -> String {
        self.root.digest().to_string()
    }

    /// buildx's metadata: `containerimage.digest`, `containerimage.descriptor`,
    /// `containerimage.config.digest` (one platform), `image.name`, `buildx.build.ref`.
    pub fn metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("buildx.build.ref".into(), json!(self.build_ref));
        m.insert(
            "containerimage.digest".into(),
            json!(self.root.digest().to_string()),
        );
        m.insert(
            "containerimage.descriptor".into(),
            json!({
                "mediaType": self.root.media_type().to_string(),
                "digest": self.root.digest().to_string(),
                "size": self.root.size(),
            }),
        );
        if let [only] = self.images.as_slice() {
            m.insert(
                "containerimage.config.digest".into(),
                json!(only.config.digest().to_string()),
            );
        }
        if !self.names.is_empty() {
            m.insert("image.name".into(), json!(self.names.join(",")));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::MediaType;

    fn desc(mt: MediaType, byte: u8) -> Descriptor {
        let d = slipway_oci::Digest::of(&[byte]);
        Descriptor::new(mt, 7, d.to_oci())
    }

    #[test]
    fn metadata_keys() {
        let root = desc(MediaType::ImageIndex, 1);
        let mut r = BuildResult {
            build_ref: "slipway/embedded/x".into(),
            root: root.clone(),
            images: vec![],
            names: vec!["a:1".into(), "b:2".into()],
            pushed: vec![],
        };
        let m = r.metadata();
        assert_eq!(m["containerimage.digest"], root.digest().to_string());
        assert_eq!(
            m["containerimage.descriptor"]["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(m["containerimage.descriptor"]["size"], 7);
        assert_eq!(m["image.name"], "a:1,b:2");
        assert!(!m.contains_key("containerimage.config.digest"));
        r.images.push(PlatformImage {
            platform: Platform::linux("amd64", ""),
            manifest: desc(MediaType::ImageManifest, 2),
            config: desc(MediaType::ImageConfig, 3),
        });
        assert!(r.metadata().contains_key("containerimage.config.digest"));
        assert_eq!(r.image_id(), root.digest().to_string());
    }
}
