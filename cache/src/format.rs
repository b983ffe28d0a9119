//! The cache document (`slipway.cache.v1`) and the manifest that carries it.
//!
//! A cache is an image manifest (OCI, or Docker schema 2 with `oci-mediatypes=false`) whose
//! `config` is the cache document (media type [`CACHE_CONFIG_MEDIA_TYPE`]) and whose `layers`
//! are every distinct blob the records name, so that registries keep those blobs alive:
//!
//! ```json
//! {"version":"slipway.cache.v1",
//!  "layers":[{"digest":"sha256:..","diffID":"sha256:..","mediaType":"..","size":12}],
//!  "records":[{"key":"<64 hex>","layers":[0]}]}
//! ```
//!
//! A record's `layers` are indices into the document's `layers`, bottom layer first.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use slipway_oci::registry::{Descriptor, ImageManifest, RawManifest};
use slipway_oci::{media, Digest};

use super::{CacheLayer, CacheRecord, RemoteCacheError};

/// `version` of the cache document (and the image config key of inline cache).
pub const CACHE_VERSION: &str = "slipway.cache.v1";
/// Media type of the cache document blob (the manifest's `config`).
pub const CACHE_CONFIG_MEDIA_TYPE: &str = "application/vnd.slipway.cache.config.v1+json";
/// BuildKit's cache document, recognised only to say that it is not read.
pub const BUILDKIT_CACHE_CONFIG_MEDIA_TYPE: &str = "application/vnd.buildkit.cacheconfig.v0";
/// Largest manifest, config or index read into memory.
pub const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;

/// The cache document as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheConfig {
    pub version: String,
    pub layers: Vec<ConfigLayer>,
    pub records: Vec<ConfigRecord>,
}

/// One blob of the document's layer table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigLayer {
    pub digest: String,
    #[serde(rename = "diffID")]
    pub diff_id: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: u64,
}

/// One record: a cache key and indices into the layer table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRecord {
    pub key: String,
    pub layers: Vec<usize>,
}

impl From<&CacheLayer> for ConfigLayer {
    fn from(l: &CacheLayer) -> ConfigLayer {
        ConfigLayer {
            digest: l.digest.clone(),
            diff_id: l.diff_id.clone(),
            media_type: l.media_type.clone(),
            size: l.size,
        }
    }
}

impl ConfigLayer {
    /// The layer, after checking its digests and media type.
    pub(crate) fn validate(&self, origin: &str, at: &str) -> Result<CacheLayer, RemoteCacheError> {
        check_digest(&self.digest, &format!("{at}.digest"), origin)?;
        check_digest(&self.diff_id, &format!("{at}.diffID"), origin)?;
        if self.media_type.trim().is_empty() {
            return Err(format_err(origin, format!("{at}.mediaType is empty")));
        }
        Ok(CacheLayer {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.size,
            diff_id: self.diff_id.clone(),
        })
    }
}

impl CacheConfig {
    /// The document for `records` (deduplicated by key, first record kept).
    pub fn from_records(records: &[CacheRecord]) -> CacheConfig {
        let mut layers: Vec<&CacheLayer> = Vec::new();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for r in records.iter().filter(|r| seen.insert(r.key.as_str())) {
            let mut idx = Vec::with_capacity(r.layers.len());
            for l in &r.layers {
                let i = match layers.iter().position(|x| *x == l) {
                    Some(i) => i,
                    None => {
                        layers.push(l);
                        layers.len() - 1
                    }
                };
                idx.push(i);
            }
            out.push(ConfigRecord {
                key: r.key.clone(),
                layers: idx,
            });
        }
        CacheConfig {
            version: CACHE_VERSION.to_string(),
            layers: layers.into_iter().map(ConfigLayer::from).collect(),
            records: out,
        }
    }

    /// The document's JSON bytes (the exact bytes that are stored and digested).
    pub fn to_bytes(&self, origin: &str) -> Result<Vec<u8>, RemoteCacheError> {
        serde_json::to_vec(self)
            .map_err(|e| format_err(origin, format!("cannot serialise the cache document: {e}")))
    }

    /// Parses and validates a cache document read from `origin`.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Vec<CacheRecord>, RemoteCacheError> {
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(too_large(origin, "cache document", bytes.len() as u64));
        }
        let doc: CacheConfig = serde_json::from_slice(bytes)
            .map_err(|e| format_err(origin, format!("cache document is not valid JSON: {e}")))?;
        doc.into_records(origin)
    }

    /// The records, after checking version, digests, keys and indices.
    pub fn into_records(self, origin: &str) -> Result<Vec<CacheRecord>, RemoteCacheError> {
        if self.version != CACHE_VERSION {
            return Err(format_err(
                origin,
                format!(
                    "unknown cache document version {:?} (this slipway reads {CACHE_VERSION:?})",
                    self.version
                ),
            ));
        }
        let layers: Vec<CacheLayer> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| l.validate(origin, &format!("layers[{i}]")))
            .collect::<Result<_, _>>()?;
        let mut records = Vec::with_capacity(self.records.len());
        for (i, r) in self.records.iter().enumerate() {
            check_key(&r.key, &format!("records[{i}].key"), origin)?;
            let mut rl = Vec::with_capacity(r.layers.len());
            for &li in &r.layers {
                let l = layers.get(li).ok_or_else(|| {
                    format_err(
                        origin,
                        format!(
                            "records[{i}] names layer {li}, but the document has {} layers",
                            layers.len()
                        ),
                    )
                })?;
                rl.push(l.clone());
            }
            records.push(CacheRecord {
                key: r.key.clone(),
                layers: rl,
            });
        }
        Ok(dedupe_records(&records))
    }
}

/// `records` with one record per key (the first one seen), in order.
pub fn dedupe_records(records: &[CacheRecord]) -> Vec<CacheRecord> {
    let mut seen = HashSet::new();
    records
        .iter()
        .filter(|r| seen.insert(r.key.as_str()))
        .cloned()
        .collect()
}

/// Every distinct blob (by digest) the records name, in order of first appearance.
pub fn distinct_blobs(records: &[CacheRecord]) -> Vec<CacheLayer> {
    let mut seen = HashSet::new();
    records
        .iter()
        .flat_map(|r| r.layers.iter())
        .filter(|l| seen.insert(l.digest.as_str()))
        .cloned()
        .collect()
}

/// The cache manifest: `config` is the document `config` (its exact bytes), `layers` every
/// blob of `blobs`. Docker schema 2 media types with `oci_media_types == false`.
pub fn cache_manifest(
    config: &[u8],
    blobs: &[CacheLayer],
    oci_media_types: bool,
    origin: &str,
) -> Result<RawManifest, RemoteCacheError> {
    let media_type = if oci_media_types {
        media::OCI_MANIFEST
    } else {
        media::DOCKER_MANIFEST
    };
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type.to_string()),
        config: Descriptor::new(
            CACHE_CONFIG_MEDIA_TYPE,
            &Digest::of(config).to_string(),
            config.len() as u64,
        ),
        layers: blobs
            .iter()
            .map(|l| Descriptor::new(&l.media_type, &l.digest, l.size))
            .collect(),
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&manifest)
        .map_err(|e| format_err(origin, format!("cannot serialise the cache manifest: {e}")))?;
    Ok(RawManifest::new(media_type, bytes))
}

/// Parses `s` as a `sha256:<hex>` digest; `what` names the field for the error.
pub(crate) fn check_digest(s: &str, what: &str, origin: &str) -> Result<Digest, RemoteCacheError> {
    s.parse::<Digest>()
        .map_err(|e| format_err(origin, format!("{what}: {e}")))
}

/// A cache key is 64 lower-case hex digits.
pub(crate) fn check_key(key: &str, what: &str, origin: &str) -> Result<(), RemoteCacheError> {
    let ok = key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(format_err(
            origin,
            format!("{what} {key:?} is not 64 lower-case hex digits"),
        ))
    }
}

/// A malformed-cache error naming its `origin` (what was read) and the `reason`.
pub fn format_err(origin: &str, reason: String) -> RemoteCacheError {
    RemoteCacheError::Format {
        origin: origin.to_string(),
        reason,
    }
}

pub(crate) fn too_large(origin: &str, what: &str, size: u64) -> RemoteCacheError {
    format_err(
        origin,
        format!("{what} is {size} bytes, more than the {MAX_DOCUMENT_BYTES} bytes allowed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn layer(n: u8) -> CacheLayer {
        CacheLayer {
            media_type: media::OCI_LAYER_GZIP.to_string(),
            digest: Digest::of(&[n]).to_string(),
            size: u64::from(n) + 1,
            diff_id: Digest::of(&[n, n]).to_string(),
        }
    }

    fn key(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    fn records() -> Vec<CacheRecord> {
        vec![
            CacheRecord {
                key: key(1),
                layers: vec![layer(1)],
            },
            CacheRecord {
                key: key(2),
                layers: vec![layer(1), layer(2)],
            },
            CacheRecord {
                key: key(3),
                layers: vec![],
            },
        ]
    }

    #[test]
    fn round_trip_shares_layers() {
        let doc = CacheConfig::from_records(&records());
        assert_eq!(doc.layers.len(), 2);
        assert_eq!(doc.records[1].layers, vec![0, 1]);
        let bytes = doc.to_bytes("t").unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#""diffID""#) && text.contains(r#""mediaType""#));
        assert_eq!(CacheConfig::parse(&bytes, "t").unwrap(), records());
    }

    #[test]
    fn same_key_keeps_the_first_record() {
        let mut rs = records();
        rs.push(CacheRecord {
            key: key(1),
            layers: vec![layer(9)],
        });
        let doc = CacheConfig::from_records(&rs);
        assert_eq!(doc.records.len(), 3);
        assert_eq!(
            doc.layers.len(),
            2,
            "layer 9 belonged to the dropped record"
        );
        assert_eq!(dedupe_records(&rs), records());
    }

    #[test]
    fn distinct_blobs_by_digest() {
        let d = distinct_blobs(&records());
        assert_eq!(d, vec![layer(1), layer(2)]);
    }

    fn reason(bytes: &[u8]) -> String {
        match CacheConfig::parse(bytes, "reg/app:cache") {
            Err(RemoteCacheError::Format { origin, reason }) => {
                assert_eq!(origin, "reg/app:cache");
                reason
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_documents_name_the_problem() {
        let good_layer = serde_json::to_value(ConfigLayer::from(&layer(1))).unwrap();
        let doc = |layers: serde_json::Value, records: serde_json::Value| {
            serde_json::to_vec(&serde_json::json!({
                "version": CACHE_VERSION, "layers": layers, "records": records}))
            .unwrap()
        };
        assert!(reason(b"{not json").contains("not valid JSON"));
        assert!(reason(br#"{"version":"slipway.cache.v1"}"#).contains("not valid JSON"));
        let v0 = br#"{"version":"slipway.cache.v0","layers":[],"records":[]}"#;
        assert!(reason(v0).contains("unknown cache document version \"slipway.cache.v0\""));
        let out_of_range = doc(
            serde_json::json!([good_layer]),
            serde_json::json!([{"key": key(1), "layers": [0, 1]}]),
        );
        assert!(reason(&out_of_range).contains("records[0] names layer 1"));
        let mut bad = good_layer.clone();
        bad["digest"] = "sha256:xyz".into();
        let bad_digest = doc(serde_json::json!([bad]), serde_json::json!([]));
        assert!(reason(&bad_digest).contains("layers[0].digest"));
        let mut bad = good_layer.clone();
        bad["diffID"] = "md5:00".into();
        let bad_diff = doc(serde_json::json!([bad]), serde_json::json!([]));
        assert!(reason(&bad_diff).contains("layers[0].diffID"));
        let bad_key = doc(
            serde_json::json!([]),
            serde_json::json!([{"key": "ABC", "layers": []}]),
        );
        assert!(reason(&bad_key).contains("records[0].key \"ABC\""));
        let negative = doc(
            serde_json::json!([good_layer]),
            serde_json::json!([{"key": key(1), "layers": [-1]}]),
        );
        assert!(reason(&negative).contains("not valid JSON"));
    }

    #[test]
    fn manifest_names_config_and_every_blob() {
        let config = CacheConfig::from_records(&records()).to_bytes("t").unwrap();
        for (oci, mt) in [(true, media::OCI_MANIFEST), (false, media::DOCKER_MANIFEST)] {
            let raw = cache_manifest(&config, &distinct_blobs(&records()), oci, "t").unwrap();
            assert_eq!(raw.media_type, mt);
            let m: ImageManifest = serde_json::from_slice(&raw.bytes).unwrap();
            assert_eq!(m.media_type.as_deref(), Some(mt));
            assert_eq!(m.config.media_type, CACHE_CONFIG_MEDIA_TYPE);
            assert_eq!(m.config.digest, Digest::of(&config).to_string());
            assert_eq!(m.layers.len(), 2);
            assert_eq!(m.layers[1].digest, layer(2).digest);
        }
    }
}
