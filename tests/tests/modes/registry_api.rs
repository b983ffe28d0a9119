//! Reading what the registry and a local cache directory hold, as the bytes were written:
//! manifests and blobs over the registry's HTTP API (curl), cache documents (docs/cache.md).

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use sha2::Digest as _;
use slipway_e2e::process::run;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `GET http://<registry>/v2/<repo>/<kind>/<reference>` (kind `manifests` or `blobs`),
/// the body exactly as the registry serves it. By digest, the body must hash to it.
pub fn registry_get(registry: &str, repo: &str, kind: &str, reference: &str) -> Result<Vec<u8>> {
    let url = format!("http://{registry}/v2/{repo}/{kind}/{reference}");
    let out = run(Command::new("curl")
        .args(["-sSfL", "-H"])
        .arg(format!("Accept: {MANIFEST_TYPES}"))
        .arg(&url))?;
    if reference.starts_with("sha256:") {
        let got = digest_of(&out.stdout);
        ensure!(got == reference, "{url} served a body of digest {got}");
    }
    Ok(out.stdout)
}

pub fn json(bytes: &[u8], what: &str) -> Result<Value> {
    serde_json::from_slice(bytes).with_context(|| {
        format!(
            "{what} is not JSON: {}",
            String::from_utf8_lossy(bytes)
                .chars()
                .take(400)
                .collect::<String>()
        )
    })
}

/// `os/arch[/variant]` of an index entry.
pub fn platform_of(entry: &Value) -> String {
    let p = &entry["platform"];
    let mut s = format!(
        "{}/{}",
        p["os"].as_str().unwrap_or("?"),
        p["architecture"].as_str().unwrap_or("?")
    );
    if let Some(v) = p["variant"].as_str() {
        s.push('/');
        s.push_str(v);
    }
    s
}

/// The lines of `a` and `b` (pretty JSON when they parse) that differ, for messages.
pub fn line_diff(a: &[u8], b: &[u8]) -> String {
    let pretty = |x: &[u8]| -> Vec<String> {
        let text = serde_json::from_slice::<Value>(x)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(x).into_owned());
        text.lines().map(str::to_string).collect()
    };
    let (la, lb) = (pretty(a), pretty(b));
    let mut out = Vec::new();
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i), lb.get(i));
        if x != y {
            out.push(format!(
                "  line {}: embedded {:?} | farm {:?}",
                i + 1,
                x.map_or("", String::as_str),
                y.map_or("", String::as_str)
            ));
        }
    }
    if out.is_empty() {
        // Same JSON, different bytes (key order, spacing).
        out.push(format!(
            "  same JSON, different bytes:\n  embedded {}\n  farm     {}",
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b)
        ));
    }
    out.join("\n")
}

/// The records of a cache manifest as layer digest lists, by key.
pub fn cache_records(doc: &Value) -> Result<BTreeMap<String, Vec<String>>> {
    let table: Vec<String> = doc["layers"]
        .as_array()
        .context("cache document without layers")?
        .iter()
        .map(|l| {
            l["digest"]
                .as_str()
                .map(String::from)
                .context("layer digest")
        })
        .collect::<Result<_>>()?;
    let mut out = BTreeMap::new();
    for r in doc["records"]
        .as_array()
        .context("cache document without records")?
    {
        let key = r["key"].as_str().context("record key")?.to_string();
        let layers = r["layers"]
            .as_array()
            .context("record layers")?
            .iter()
            .map(|i| {
                i.as_u64()
                    .and_then(|i| table.get(i as usize).cloned())
                    .with_context(|| format!("record {key}: layer index {i}"))
            })
            .collect::<Result<Vec<_>>>()?;
        out.insert(key, layers);
    }
    Ok(out)
}

/// The records of the registry cache `repo:tag`.
pub fn registry_cache_records(
    registry: &str,
    repo: &str,
    tag: &str,
) -> Result<BTreeMap<String, Vec<String>>> {
    let manifest = json(
        &registry_get(registry, repo, "manifests", tag)?,
        "the cache manifest",
    )?;
    let config = manifest["config"]["digest"]
        .as_str()
        .context("cache manifest without config")?;
    let doc = json(
        &registry_get(registry, repo, "blobs", config)?,
        "the cache document",
    )?;
    cache_records(&doc)
}

/// The layer digests of the host (linux/amd64) image `repo:tag`.
pub fn image_layers(registry: &str, repo: &str, tag: &str) -> Result<Vec<String>> {
    let mut m = json(
        &registry_get(registry, repo, "manifests", tag)?,
        "the image manifest",
    )?;
    if m["manifests"].is_array() {
        let entry = m["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| platform_of(e) == "linux/amd64")
            .context("no linux/amd64 image in the index")?;
        let digest = entry["digest"].as_str().context("index entry digest")?;
        m = json(
            &registry_get(registry, repo, "manifests", digest)?,
            "the image manifest",
        )?;
    }
    m["layers"]
        .as_array()
        .context("manifest without layers")?
        .iter()
        .map(|l| {
            l["digest"]
                .as_str()
                .map(String::from)
                .context("layer digest")
        })
        .collect()
}

/// The keys of the local cache directory `dir` (the index entry `latest`).
pub fn local_cache_records(dir: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let blob = |digest: &str| -> Result<Vec<u8>> {
        let hex = digest.strip_prefix("sha256:").context("digest")?;
        let path = dir.join("blobs/sha256").join(hex);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let index = json(&std::fs::read(dir.join("index.json"))?, "index.json")?;
    let entry = index["manifests"]
        .as_array()
        .and_then(|m| m.first())
        .context("index.json names no manifest")?;
    let manifest = json(
        &blob(entry["digest"].as_str().context("index entry digest")?)?,
        "the cache manifest",
    )?;
    let doc = json(
        &blob(
            manifest["config"]["digest"]
                .as_str()
                .context("manifest config")?,
        )?,
        "the cache document",
    )?;
    cache_records(&doc)
}
