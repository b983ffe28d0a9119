//! Pinned blobs: everything reachable from a content-store reference. An index pins its
//! manifests (and the index's own blob), a manifest pins its config and layers. Docker
//! and OCI media types share these field names, so the JSON is read structurally.

use std::collections::HashSet;

use serde::Deserialize;
use slipway_oci::{ContentStore, Digest, StoreError};

use super::GcError;

/// Deepest index nesting followed (an index of indexes of …).
const MAX_DEPTH: usize = 8;

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

/// The fields of an index or manifest that name other blobs.
#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// Digests of all pinned blobs present in `store` (missing ones are skipped: an image
/// may name layers that were never pulled here).
pub(crate) fn pinned(store: &ContentStore) -> Result<HashSet<Digest>, GcError> {
    let mut out = HashSet::new();
    for (name, desc) in store.refs().map_err(GcError::store("reading references"))? {
        let digest = desc.digest().to_string();
        let Ok(root) = digest.parse::<Digest>() else {
            continue; // not a sha256 digest: nothing in this store
        };
        walk(store, &name, root, 0, &mut out)?;
    }
    Ok(out)
}

fn walk(
    store: &ContentStore,
    name: &str,
    digest: Digest,
    depth: usize,
    out: &mut HashSet<Digest>,
) -> Result<(), GcError> {
    if !out.insert(digest) {
        return Ok(());
    }
    let bad = |reason: String| GcError::BadPinnedManifest {
        name: name.to_string(),
        digest: digest.to_string(),
        reason,
    };
    if depth > MAX_DEPTH {
        return Err(bad(format!("indexes nested deeper than {MAX_DEPTH}")));
    }
    let bytes = match store.read_blob(&digest) {
        Ok(b) => b,
        Err(StoreError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(bad(e.to_string())),
    };
    let doc: Document = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    for m in &doc.manifests {
        if let Ok(d) = m.digest.parse::<Digest>() {
            walk(store, name, d, depth + 1, out)?;
        }
    }
    for leaf in doc.config.iter().chain(&doc.layers) {
        if let Ok(d) = leaf.digest.parse::<Digest>() {
            out.insert(d);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{DescriptorBuilder, MediaType};

    fn desc(d: &Digest, media: MediaType) -> oci_spec::image::Descriptor {
        DescriptorBuilder::default()
            .media_type(media)
            .digest(d.to_oci())
            .size(1u64)
            .build()
            .unwrap()
    }

    #[test]
    fn index_pins_manifests_configs_and_layers_only() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let layer = store.put_bytes(b"layer").unwrap();
        let config = store.put_bytes(b"{}").unwrap();
        let loose = store.put_bytes(b"loose").unwrap();
        let manifest = store
            .put_bytes(
                format!(
                    r#"{{"schemaVersion":2,"config":{{"digest":"{config}"}},"layers":[{{"digest":"{layer}"}}]}}"#
                )
                .as_bytes(),
            )
            .unwrap();
        let index = store
            .put_bytes(
                format!(r#"{{"schemaVersion":2,"manifests":[{{"digest":"{manifest}"}}]}}"#)
                    .as_bytes(),
            )
            .unwrap();
        store
            .set_ref("example.com/a:1", &desc(&index, MediaType::ImageIndex))
            .unwrap();
        let got = pinned(&store).unwrap();
        let want: HashSet<Digest> = [index, manifest, config, layer].into_iter().collect();
        assert_eq!(got, want);
        assert!(!got.contains(&loose));
    }

    #[test]
    fn unreadable_pinned_manifest_refuses() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ContentStore::open(tmp.path()).unwrap();
        let junk = store.put_bytes(b"not json").unwrap();
        store
            .set_ref("example.com/a:1", &desc(&junk, MediaType::ImageManifest))
            .unwrap();
        let err = pinned(&store).unwrap_err();
        assert!(
            matches!(&err, GcError::BadPinnedManifest { name, .. } if name == "example.com/a:1"),
            "{err}"
        );
    }
}
