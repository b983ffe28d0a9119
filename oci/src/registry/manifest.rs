//! Manifest and index documents as the registry serves them (OCI and Docker v2 media types),
//! and platform selection in an index with containerd's normalisation.

use serde::{Deserialize, Serialize};
use slipway_graph::Platform;
use std::collections::BTreeMap;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Media types asked for when pulling a manifest by tag or digest.
pub const ACCEPTED_MANIFEST_TYPES: &[&str] = &[
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
];

/// A content descriptor (the subset slipway reads and writes; unknown fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformSpec>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: &str, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: None,
        }
    }
}

/// The `platform` object of an index entry, as written in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    pub architecture: String,
    pub os: String,
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        default,
        rename = "os.features",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// The normalised platform (`arm64/v8` ⇔ `arm64`, `arm` ⇔ `arm/v7`).
    pub fn normalized(&self) -> Platform {
        Platform::new(
            &self.os,
            &self.architecture,
            self.variant.as_deref().unwrap_or_default(),
        )
    }

    pub fn from_platform(p: &Platform) -> PlatformSpec {
        PlatformSpec {
            architecture: p.architecture.clone(),
            os: p.os.clone(),
            os_version: None,
            os_features: None,
            variant: (!p.variant.is_empty()).then(|| p.variant.clone()),
        }
    }
}

/// An image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A single-platform image manifest (OCI or Docker v2 schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A parsed manifest document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Index(Index),
    Image(Box<ImageManifest>),
}

/// Why manifest bytes could not be understood (the caller adds the reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestProblem {
    Malformed(String),
    UnsupportedMediaType(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
}

impl Manifest {
    /// Parses manifest bytes, deciding index vs image from `mediaType` (or the document's shape
    /// when an OCI document omits it).
    pub fn parse(bytes: &[u8]) -> Result<(Manifest, String), ManifestProblem> {
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| ManifestProblem::Malformed(e.to_string()))?;
        if probe.schema_version != Some(2) {
            return Err(ManifestProblem::Malformed(format!(
                "schemaVersion is {:?}, expected 2",
                probe.schema_version
            )));
        }
        let media_type = match probe.media_type {
            Some(mt) => mt,
            None if probe.manifests.is_some() => OCI_INDEX.to_string(),
            None if probe.config.is_some() => OCI_MANIFEST.to_string(),
            None => {
                return Err(ManifestProblem::Malformed(
                    "neither `manifests` nor `config`".into(),
                ))
            }
        };
        let bad = |e: serde_json::Error| ManifestProblem::Malformed(e.to_string());
        let manifest = match media_type.as_str() {
            OCI_INDEX | DOCKER_MANIFEST_LIST => {
                Manifest::Index(serde_json::from_slice(bytes).map_err(bad)?)
            }
            OCI_MANIFEST | DOCKER_MANIFEST => {
                Manifest::Image(Box::new(serde_json::from_slice(bytes).map_err(bad)?))
            }
            other => return Err(ManifestProblem::UnsupportedMediaType(other.to_string())),
        };
        Ok((manifest, media_type))
    }
}

pub fn is_index_media_type(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

impl Index {
    /// The first entry whose platform normalises to `wanted`.
    pub fn select(&self, wanted: &Platform) -> Option<&Descriptor> {
        self.manifests.iter().find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| &p.normalized() == wanted)
        })
    }

    /// `os/arch[/variant]` of every entry that has a platform, for error messages.
    pub fn platforms(&self) -> Vec<String> {
        self.manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(|p| p.normalized().to_string()))
            .collect()
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"{
      "schemaVersion": 2,
      "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
      "manifests": [
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:a",
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:b",
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:c",
         "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 1, "digest": "sha256:d",
         "platform": {"architecture": "arm", "os": "linux", "variant": "v6"}}
      ]}"#;

    #[test]
    fn select_uses_containerd_normalisation() {
        let (m, mt) = Manifest::parse(LIST.as_bytes()).unwrap();
        assert_eq!(mt, DOCKER_MANIFEST_LIST);
        let Manifest::Index(idx) = m else {
            panic!("not an index")
        };
        let pick = |s: &str| idx.select(&s.parse().unwrap()).map(|d| d.digest.clone());
        assert_eq!(pick("linux/arm64").as_deref(), Some("sha256:b"));
        assert_eq!(pick("linux/arm64/v8").as_deref(), Some("sha256:b"));
        assert_eq!(pick("linux/arm").as_deref(), Some("sha256:c"));
        assert_eq!(pick("linux/arm/v6").as_deref(), Some("sha256:d"));
        assert_eq!(pick("linux/amd64").as_deref(), Some("sha256:a"));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(idx.platforms().len(), 4);
    }

    #[test]
    fn oci_documents_without_media_type_are_recognised() {
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:1","size":2},"layers":[]}"#;
        assert!(matches!(Manifest::parse(m), Ok((Manifest::Image(_), t)) if t == OCI_MANIFEST));
        let i = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(Manifest::parse(i), Ok((Manifest::Index(_), t)) if t == OCI_INDEX));
    }

    #[test]
    fn bad_documents_are_errors() {
        assert!(matches!(
            Manifest::parse(b"nope"),
            Err(ManifestProblem::Malformed(_))
        ));
        assert!(matches!(
            Manifest::parse(br#"{"schemaVersion":1}"#),
            Err(ManifestProblem::Malformed(_))
        ));
        assert!(matches!(
            Manifest::parse(br#"{"schemaVersion":2,"mediaType":"text/plain"}"#),
            Err(ManifestProblem::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            Manifest::parse(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":1}]}"#),
            Err(ManifestProblem::Malformed(_))
        ));
    }
}
