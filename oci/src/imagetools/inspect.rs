//! `imagetools inspect`: what a reference points to, as text, JSON or the raw bytes.

use super::config::{fetch_summary, ImageConfigSummary};
use super::ImagetoolsError;
use crate::registry::{Descriptor, Manifest, Reference, RegistryClient};
use bytes::Bytes;
use serde::Serialize;
use std::collections::BTreeMap;

/// Options of `inspect`.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// For a single manifest, read its config blob to show platform, env, cmd, labels.
    pub config_summary: bool,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            config_summary: true,
        }
    }
}

/// One entry of an inspected index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectedEntry {
    /// `registry/repo@digest`.
    pub name: String,
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// What the reference points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum InspectedContent {
    Index {
        manifests: Vec<InspectedEntry>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        annotations: BTreeMap<String, String>,
    },
    Image {
        config: Box<Descriptor>,
        layers: Vec<Descriptor>,
        #[serde(skip_serializing_if = "Option::is_none")]
        image: Option<Box<ImageConfigSummary>>,
    },
}

/// The result of `inspect`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// The reference, fully qualified (`registry/repo:tag` or `@digest`).
    pub name: String,
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    /// The manifest or index bytes exactly as served (`--raw`).
    #[serde(skip)]
    pub raw: Bytes,
    pub content: InspectedContent,
}

impl Inspection {
    /// `--raw`: the bytes as the registry served them.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// `--format json`: the summary plus the manifest document itself.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let (Some(obj), Ok(doc)) = (
            v.as_object_mut(),
            serde_json::from_slice::<serde_json::Value>(&self.raw),
        ) {
            obj.insert("manifest".into(), doc);
        }
        v
    }
}

/// Reads what `reference` points to.
pub async fn inspect(
    client: &RegistryClient,
    reference: &Reference,
    opts: &InspectOptions,
) -> Result<Inspection, ImagetoolsError> {
    let pulled = client.pull_manifest(reference).await?;
    let repo_name = format!("{}/{}", reference.registry(), reference.repository());
    let content = match pulled.manifest {
        Manifest::Index(index) => InspectedContent::Index {
            manifests: index
                .manifests
                .iter()
                .map(|d| InspectedEntry {
                    name: format!("{repo_name}@{}", d.digest),
                    media_type: d.media_type.clone(),
                    digest: d.digest.clone(),
                    size: d.size,
                    platform: d.platform.as_ref().map(|p| p.normalized().to_string()),
                    annotations: d.annotations.clone(),
                })
                .collect(),
            annotations: index.annotations,
        },
        Manifest::Image(m) => {
            let image = if opts.config_summary {
                Some(Box::new(fetch_summary(client, reference, &m.config).await?))
            } else {
                None
            };
            InspectedContent::Image {
                config: Box::new(m.config),
                layers: m.layers,
                image,
            }
        }
    };
    Ok(Inspection {
        name: reference.to_string(),
        media_type: pulled.media_type,
        digest: pulled.digest,
        size: pulled.bytes.len() as u64,
        raw: pulled.bytes,
        content,
    })
}
