//! Reading a (small) image config blob and summarising it.

use super::ImagetoolsError;
use crate::registry::{Descriptor, Reference, RegistryClient};
use serde::{Deserialize, Serialize};
use slipway_graph::Platform;
use std::collections::BTreeMap;

/// Config blobs larger than this are not read for a summary.
pub const CONFIG_LIMIT: u64 = 8 * 1024 * 1024;

/// The parts of an image config `inspect` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageConfigSummary {
    pub platform: Platform,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    config: Option<RawRuntime>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RawRuntime {
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Parses image config bytes into a summary.
pub fn summarize(reference: &str, bytes: &[u8]) -> Result<ImageConfigSummary, ImagetoolsError> {
    let raw: RawConfig =
        serde_json::from_slice(bytes).map_err(|source| ImagetoolsError::BadConfig {
            reference: reference.to_string(),
            source,
        })?;
    let rt = raw.config.unwrap_or_default();
    Ok(ImageConfigSummary {
        platform: Platform::new(
            &raw.os,
            &raw.architecture,
            raw.variant.as_deref().unwrap_or_default(),
        ),
        created: raw.created,
        env: rt.env.unwrap_or_default(),
        entrypoint: rt.entrypoint.unwrap_or_default(),
        cmd: rt.cmd.unwrap_or_default(),
        working_dir: rt.working_dir.unwrap_or_default(),
        user: rt.user.unwrap_or_default(),
        labels: rt.labels.unwrap_or_default(),
    })
}

/// Fetches and summarises the config blob `config` of an image in `repo`.
pub async fn fetch_summary(
    client: &RegistryClient,
    repo: &Reference,
    config: &Descriptor,
) -> Result<ImageConfigSummary, ImagetoolsError> {
    let name = format!(
        "{}/{}@{}",
        repo.registry(),
        repo.repository(),
        config.digest
    );
    if config.size > CONFIG_LIMIT {
        return Err(ImagetoolsError::ConfigTooLarge {
            reference: name,
            size: config.size,
            limit: CONFIG_LIMIT,
        });
    }
    let mut buf: Vec<u8> = Vec::new();
    client.pull_blob_to_writer(repo, config, &mut buf).await?;
    summarize(&name, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_platform_and_runtime() {
        let s = summarize(
            "r",
            br#"{"architecture":"arm","os":"linux","variant":"v7","config":{"Env":["A=1"],"Cmd":["sh"],"Labels":{"k":"v"}},"rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        assert_eq!(s.platform.to_string(), "linux/arm/v7");
        assert_eq!(s.env, vec!["A=1"]);
        assert_eq!(s.cmd, vec!["sh"]);
        assert_eq!(s.labels.get("k").map(String::as_str), Some("v"));
        assert!(matches!(
            summarize("r", b"[1"),
            Err(ImagetoolsError::BadConfig { .. })
        ));
    }
}
