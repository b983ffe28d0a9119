//! Inline cache (`--cache-to type=inline`): the records of an image's build stored in its own
//! config under the top-level key [`INLINE_KEY`]:
//!
//! ```json
//! "slipway.cache.v1": {
//!   "layers": [{"digest":"sha256:..","diffID":"sha256:..","mediaType":"..","size":12}],
//!   "records": [{"key":"<64 hex>","layers":["sha256:.."]}]}
//! ```
//!
//! Records name their layers by digest; the blobs are the image's own layers, fetched from the
//! image's repository.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::format::{check_key, dedupe_records, format_err, too_large, ConfigLayer, CACHE_VERSION};
use super::{CacheLayer, CacheRecord, RemoteCacheError};

/// The image config key holding inline cache.
pub const INLINE_KEY: &str = CACHE_VERSION;

#[derive(Debug, Serialize, Deserialize)]
struct InlineCache {
    layers: Vec<ConfigLayer>,
    records: Vec<InlineRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
struct InlineRecord {
    key: String,
    layers: Vec<String>,
}

/// The value to store under [`INLINE_KEY`] in an image config for `records` (deduplicated by
/// key, first record kept).
pub fn inline_cache_value(records: &[CacheRecord]) -> serde_json::Value {
    let records = dedupe_records(records);
    let mut layers: Vec<serde_json::Value> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(records.len());
    for r in &records {
        for l in &r.layers {
            if seen.insert(l.digest.as_str()) {
                layers.push(serde_json::json!({
                    "digest": l.digest,
                    "diffID": l.diff_id,
                    "mediaType": l.media_type,
                    "size": l.size,
                }));
            }
        }
        out.push(serde_json::json!({
            "key": r.key,
            "layers": r.layers.iter().map(|l| l.digest.as_str()).collect::<Vec<_>>(),
        }));
    }
    serde_json::json!({ "layers": layers, "records": out })
}

/// The inline cache records of an image config (none if it has no [`INLINE_KEY`]).
pub fn parse_inline(config_json: &[u8]) -> Result<Vec<CacheRecord>, RemoteCacheError> {
    parse_inline_at(config_json, "inline cache")
}

/// [`parse_inline`], with `origin` naming where the config came from in errors.
pub fn parse_inline_at(
    config_json: &[u8],
    origin: &str,
) -> Result<Vec<CacheRecord>, RemoteCacheError> {
    if config_json.len() as u64 > super::format::MAX_DOCUMENT_BYTES {
        return Err(too_large(origin, "image config", config_json.len() as u64));
    }
    let mut config: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(config_json)
            .map_err(|e| format_err(origin, format!("image config is not a JSON object: {e}")))?;
    let Some(value) = config.remove(INLINE_KEY) else {
        return Ok(Vec::new());
    };
    let inline: InlineCache = serde_json::from_value(value)
        .map_err(|e| format_err(origin, format!("{INLINE_KEY}: malformed inline cache: {e}")))?;
    let mut by_digest: HashMap<&str, CacheLayer> = HashMap::new();
    for (i, l) in inline.layers.iter().enumerate() {
        let layer = l.validate(origin, &format!("{INLINE_KEY}.layers[{i}]"))?;
        by_digest.entry(l.digest.as_str()).or_insert(layer);
    }
    let mut records = Vec::with_capacity(inline.records.len());
    for (i, r) in inline.records.iter().enumerate() {
        check_key(&r.key, &format!("{INLINE_KEY}.records[{i}].key"), origin)?;
        let layers = r
            .layers
            .iter()
            .map(|d| {
                by_digest.get(d.as_str()).cloned().ok_or_else(|| {
                    format_err(
                        origin,
                        format!("{INLINE_KEY}.records[{i}] names layer {d}, which is not in the layer table"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        records.push(CacheRecord {
            key: r.key.clone(),
            layers,
        });
    }
    Ok(dedupe_records(&records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_oci::{media, Digest};

    fn layer(n: u8) -> CacheLayer {
        CacheLayer {
            media_type: media::DOCKER_LAYER_GZIP.to_string(),
            digest: Digest::of(&[n]).to_string(),
            size: 10 + u64::from(n),
            diff_id: Digest::of(&[n, 0]).to_string(),
        }
    }

    fn records() -> Vec<CacheRecord> {
        vec![
            CacheRecord {
                key: "a".repeat(64),
                layers: vec![layer(1)],
            },
            CacheRecord {
                key: "b".repeat(64),
                layers: vec![layer(1), layer(2)],
            },
        ]
    }

    #[test]
    fn round_trip_through_an_image_config() {
        let mut config = serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}});
        config[INLINE_KEY] = inline_cache_value(&records());
        let bytes = serde_json::to_vec(&config).unwrap();
        assert_eq!(parse_inline(&bytes).unwrap(), records());
        let value = &config[INLINE_KEY];
        assert_eq!(value["layers"].as_array().unwrap().len(), 2);
        assert_eq!(value["records"][1]["layers"][1], layer(2).digest.as_str());
    }

    #[test]
    fn config_without_cache_has_no_records() {
        assert!(parse_inline(br#"{"os":"linux"}"#).unwrap().is_empty());
    }

    fn reason(config: serde_json::Value) -> String {
        let bytes = serde_json::to_vec(&config).unwrap();
        match parse_inline_at(&bytes, "reg/app:1") {
            Err(RemoteCacheError::Format { origin, reason }) => {
                assert_eq!(origin, "reg/app:1");
                reason
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_inline_cache_is_a_format_error() {
        match parse_inline(b"[1,2]") {
            Err(RemoteCacheError::Format { reason, .. }) => {
                assert!(reason.contains("not a JSON object"))
            }
            other => panic!("{other:?}"),
        }
        assert!(reason(serde_json::json!({INLINE_KEY: 5})).contains("malformed inline cache"));
        let unknown_layer = serde_json::json!({INLINE_KEY: {"layers": [],
            "records": [{"key": "a".repeat(64), "layers": ["sha256:".to_string() + &"0".repeat(64)]}]}});
        assert!(reason(unknown_layer).contains("not in the layer table"));
        let bad_key = serde_json::json!({INLINE_KEY: {"layers": [],
            "records": [{"key": "zz", "layers": []}]}});
        assert!(reason(bad_key).contains("records[0].key"));
        let bad_digest = serde_json::json!({INLINE_KEY: {"layers": [
            {"digest": "sha256:1", "diffID": layer(1).diff_id, "mediaType": "x", "size": 1}],
            "records": []}});
        assert!(reason(bad_digest).contains("layers[0].digest"));
    }
}
