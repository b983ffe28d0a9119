//! Base-image metadata for the frontend, fetched from registries: the manifest digest per
//! platform and the image config (Env, WorkingDir, User, Shell, OnBuild, history...).
//!
//! The frontend's [`ImageMetaResolver`] is synchronous; [`RegistryResolver`] blocks on the
//! registry client through a runtime handle and must be called off the runtime's worker
//! threads (the coordinator lowers inside `spawn_blocking`).

use serde::Deserialize;
use slipway_frontend::{ImageMeta, ImageMetaResolver, ResolveError};
use slipway_graph::{Digest, Healthcheck, HistoryEntry, ImageConfig, Platform};
use slipway_oci::registry::{parse_reference, RegistryClient, RegistryError};
use slipway_progress::{ProgressEvent, VertexEvent, VertexStatus};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

/// Resolves base images through a [`RegistryClient`], remembering answers for one build.
pub struct RegistryResolver {
    client: Arc<RegistryClient>,
    handle: tokio::runtime::Handle,
    cache: Mutex<HashMap<(String, Platform), ImageMeta>>,
    /// Where `[internal] load metadata for REF` steps are reported, if anywhere.
    progress: Option<mpsc::Sender<ProgressEvent>>,
}

impl RegistryResolver {
    pub fn new(client: Arc<RegistryClient>, handle: tokio::runtime::Handle) -> RegistryResolver {
        RegistryResolver {
            client,
            handle,
            cache: Mutex::new(HashMap::new()),
            progress: None,
        }
    }

    /// Reports each lookup as a progress step, as BuildKit's `load metadata for` lines.
    /// The resolver is called off the runtime, so events are sent blocking.
    pub fn with_progress(mut self, progress: mpsc::Sender<ProgressEvent>) -> RegistryResolver {
        self.progress = Some(progress);
        self
    }

    fn report(&self, reference: &str, platform: &Platform, status: VertexStatus) {
        if let Some(tx) = &self.progress {
            let name = format!("[internal] load metadata for {reference}");
            let vertex = Digest::of_bytes(format!("{name}\0{platform}").as_bytes());
            let timestamp_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let _ = tx.blocking_send(ProgressEvent::Vertex(VertexEvent {
                vertex,
                name,
                platform: platform.clone(),
                worker: None,
                status,
                timestamp_ms,
            }));
        }
    }

    async fn fetch(&self, reference: &str, platform: &Platform) -> Result<ImageMeta, ResolveError> {
        let r = parse_reference(reference).map_err(|e| registry_error(reference, e))?;
        let image = self
            .client
            .pull_image(&r, platform)
            .await
            .map_err(|e| registry_error(reference, e))?;
        let mut config_bytes: Vec<u8> = Vec::new();
        self.client
            .pull_blob_to_writer(&r, &image.manifest.config, &mut config_bytes)
            .await
            .map_err(|e| registry_error(reference, e))?;
        let config = config_from_json(&config_bytes).map_err(|message| ResolveError::Registry {
            reference: reference.to_string(),
            message: format!("image config {}: {message}", image.manifest.config.digest),
        })?;
        let digest =
            image
                .manifest_digest
                .parse::<Digest>()
                .map_err(|e| ResolveError::Registry {
                    reference: reference.to_string(),
                    message: e.to_string(),
                })?;
        Ok(ImageMeta {
            config,
            digest: Some(digest),
            empty_rootfs: image.manifest.layers.is_empty(),
        })
    }
}

impl ImageMetaResolver for RegistryResolver {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ImageMeta, ResolveError> {
        let key = (reference.to_string(), platform.clone());
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(hit);
        }
        self.report(reference, platform, VertexStatus::Started);
        let started = Instant::now();
        let meta = self.handle.block_on(self.fetch(reference, platform));
        let status = match &meta {
            Ok(_) => VertexStatus::Done {
                duration_ms: started.elapsed().as_millis() as u64,
            },
            Err(e) => VertexStatus::Error {
                message: e.to_string(),
            },
        };
        self.report(reference, platform, status);
        let meta = meta?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, meta.clone());
        }
        Ok(meta)
    }
}

fn registry_error(reference: &str, err: RegistryError) -> ResolveError {
    match err {
        RegistryError::NotFound { .. } => ResolveError::NotFound {
            reference: reference.to_string(),
        },
        RegistryError::Unauthorized { .. } | RegistryError::Denied { .. } => {
            ResolveError::AccessDenied {
                reference: reference.to_string(),
            }
        }
        RegistryError::NoMatchingPlatform { platform, .. } => ResolveError::NoMatchingPlatform {
            reference: reference.to_string(),
            platform,
        },
        other => ResolveError::Registry {
            reference: reference.to_string(),
            message: other.to_string(),
        },
    }
}

/// The image config JSON (OCI or Docker), only the fields builds inherit.
#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    config: Option<RunConfig>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    history: Vec<History>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    working_dir: Option<String>,
    user: Option<String>,
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    labels: Option<BTreeMap<String, String>>,
    stop_signal: Option<String>,
    healthcheck: Option<Healthcheck>,
    shell: Option<Vec<String>>,
    on_build: Option<Vec<String>>,
    args_escaped: Option<bool>,
}

#[derive(Deserialize, Default)]
struct History {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    empty_layer: bool,
}

/// Reads what a build inherits from an image config document.
pub fn config_from_json(bytes: &[u8]) -> Result<ImageConfig, String> {
    let file: ConfigFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let c = file.config.unwrap_or_default();
    Ok(ImageConfig {
        env: c.env.unwrap_or_default(),
        cmd: c.cmd,
        entrypoint: c.entrypoint,
        working_dir: c.working_dir.unwrap_or_default(),
        user: c.user.unwrap_or_default(),
        exposed_ports: keys(c.exposed_ports),
        volumes: keys(c.volumes),
        labels: c.labels.unwrap_or_default(),
        stop_signal: c.stop_signal.filter(|s| !s.is_empty()),
        healthcheck: c.healthcheck,
        shell: c.shell.filter(|s| !s.is_empty()),
        on_build: c.on_build.unwrap_or_default(),
        args_escaped: c.args_escaped.unwrap_or(false),
        author: file.author.filter(|a| !a.is_empty()),
        history: file
            .history
            .into_iter()
            .map(|h| HistoryEntry {
                created: h.created.as_deref().and_then(parse_rfc3339_secs),
                created_by: h.created_by,
                comment: h.comment,
                empty_layer: h.empty_layer,
            })
            .collect(),
    })
}

fn keys(map: Option<BTreeMap<String, serde_json::Value>>) -> BTreeSet<String> {
    map.map(|m| m.into_keys().collect()).unwrap_or_default()
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn parse_rfc3339_secs(s: &str) -> Option<i64> {
    let num = |range: std::ops::Range<usize>| s.get(range)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = s.get(19..)?;
    let rest = match rest.strip_prefix('.') {
        Some(r) => r.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    let offset = match rest {
        "Z" | "z" | "" => 0,
        tz => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let oh = tz.get(1..3)?.parse::<i64>().ok()?;
            let om = tz.get(4..6)?.parse::<i64>().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherits_docker_config_fields() {
        let json = br#"{"architecture":"amd64","os":"linux","author":"me",
          "config":{"Env":["PATH=/bin","A=1"],"Cmd":["sh"],"WorkingDir":"/w","User":"1:2",
            "ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"Labels":{"k":"v"},
            "Shell":["/bin/bash","-c"],"OnBuild":["RUN echo hi"],"StopSignal":"SIGTERM",
            "Healthcheck":{"Test":["CMD","true"],"Interval":1000000000}},
          "rootfs":{"type":"layers","diff_ids":[]},
          "history":[{"created":"2024-05-01T12:00:00.5Z","created_by":"ADD x /"},
                     {"created":"2024-05-01T14:00:00+02:00","created_by":"CMD","empty_layer":true}]}"#;
        let c = config_from_json(json).unwrap();
        assert_eq!(c.env, vec!["PATH=/bin", "A=1"]);
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!((c.working_dir.as_str(), c.user.as_str()), ("/w", "1:2"));
        assert!(c.exposed_ports.contains("80/tcp") && c.volumes.contains("/data"));
        assert_eq!(
            c.shell,
            Some(vec!["/bin/bash".to_string(), "-c".to_string()])
        );
        assert_eq!(c.on_build, vec!["RUN echo hi"]);
        assert_eq!(c.healthcheck.unwrap().interval, 1_000_000_000);
        assert_eq!(c.author.as_deref(), Some("me"));
        assert_eq!(c.history[0].created, Some(1_714_564_800));
        assert_eq!(c.history[1].created, Some(1_714_564_800));
        assert!(c.history[1].empty_layer);
    }

    #[test]
    fn empty_and_bad_configs() {
        assert_eq!(config_from_json(b"{}").unwrap(), ImageConfig::default());
        assert!(config_from_json(b"[1]").is_err());
        assert_eq!(parse_rfc3339_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_secs("garbage"), None);
    }
}
