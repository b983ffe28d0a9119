//! Writing inline cache into built images (`--cache-to type=inline`), shared by the
//! embedded build and farm tasks: each image's config gets the records whose layers are a
//! prefix of that image's layers, and the manifest is rewritten to match.

use oci_spec::image::Descriptor;
use slipway_oci::ContentStore;

use crate::SolvedImage;
use slipway_cache::format::format_err;
use slipway_cache::inline::{inline_cache_value, INLINE_KEY};
use slipway_cache::{CacheRecord, RemoteCacheError};

const ORIGIN: &str = "inline cache";

/// The records whose layers are a prefix of one of `images`' layers (what `mode=min`
/// keeps: the final stages' steps).
pub fn prefixes_of(images: &[SolvedImage], records: &[CacheRecord]) -> Vec<CacheRecord> {
    let lists: Vec<Vec<String>> = images
        .iter()
        .map(|i| i.layers.iter().map(|l| l.digest().to_string()).collect())
        .collect();
    slipway_farm::cache::select_records(
        slipway_farm::cache::CacheMode::Min,
        records,
        lists.iter().map(Vec::as_slice),
    )
}

/// With `type=inline`: each image's config gets the records whose layers are a prefix of
/// that image's layers, under `slipway.cache.v1`; the manifest is rewritten to match.
pub fn embed_inline(
    store: &ContentStore,
    images: &mut [SolvedImage],
    records: &[CacheRecord],
) -> Result<(), RemoteCacheError> {
    for image in images.iter_mut() {
        let own = prefixes_of(std::slice::from_ref(image), records);
        let (manifest, config) = rewrite_config(
            store,
            &image.manifest,
            &image.config,
            inline_cache_value(&own),
        )?;
        image.manifest = manifest;
        image.config = config;
    }
    Ok(())
}

fn rewrite_config(
    store: &ContentStore,
    manifest: &Descriptor,
    config: &Descriptor,
    value: serde_json::Value,
) -> Result<(Descriptor, Descriptor), RemoteCacheError> {
    let bad = |what: &str, reason: String| format_err(ORIGIN, format!("{what}: {reason}"));
    let read = |d: &Descriptor| -> Result<serde_json::Value, RemoteCacheError> {
        let digest =
            slipway_oci::Digest::try_from(d.digest()).map_err(|e| bad("digest", e.to_string()))?;
        let bytes = store
            .read_blob(&digest)
            .map_err(|e| bad("reading the image", e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| bad("parsing the image", e.to_string()))
    };
    let canonical = slipway_oci::image::json::canonical_json::<serde_json::Value>;
    let mut cfg = read(config)?;
    if let Some(obj) = cfg.as_object_mut() {
        obj.insert(INLINE_KEY.to_string(), value);
    }
    let cfg_bytes = canonical(&cfg).map_err(|e| bad("config", e.to_string()))?;
    let cfg_digest = store
        .put_bytes(&cfg_bytes)
        .map_err(|e| bad("storing the config", e.to_string()))?;
    let mut new_config = config.clone();
    new_config.set_digest(cfg_digest.to_oci());
    new_config.set_size(cfg_bytes.len() as u64);
    let mut man = read(manifest)?;
    man["config"]["digest"] = serde_json::json!(cfg_digest.to_string());
    man["config"]["size"] = serde_json::json!(cfg_bytes.len());
    let man_bytes = canonical(&man).map_err(|e| bad("manifest", e.to_string()))?;
    let man_digest = store
        .put_bytes(&man_bytes)
        .map_err(|e| bad("storing the manifest", e.to_string()))?;
    let mut new_manifest = manifest.clone();
    new_manifest.set_digest(man_digest.to_oci());
    new_manifest.set_size(man_bytes.len() as u64);
    Ok((new_manifest, new_config))
}
