//! Registry and local cache export/import against a real `docker-registry` and real OCI
//! layout directories: records round trip, blobs are streamed into a second store and
//! verified, a second export uploads nothing, missing and foreign caches are reported.

mod common;
mod solve_support;

use std::path::Path;

use slipway_oci::registry::{
    self, Descriptor, ImageManifest, Index, LocalBlob, Manifest, PushOptions, PushPlan,
    RawManifest, RegistryClient, RegistryConfig,
};
use slipway_oci::{media, ContentStore, Digest};
use slipway_worker::remote::{
    export_to_dir, export_to_registry, inline_cache_value, CacheLayer, CacheRecord, LocalCache,
    RegistryCache, RegistryExportOptions, RemoteCache, RemoteCacheError, INLINE_KEY,
};
use solve_support::TestRegistry;

fn client() -> RegistryClient {
    RegistryClient::new(RegistryConfig::default(), Default::default())
}

/// Deterministic pseudo-random bytes (incompressible enough to look like a layer).
fn data(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .collect()
}

fn put(store: &ContentStore, bytes: &[u8]) -> CacheLayer {
    let digest = store.put_bytes(bytes).unwrap();
    CacheLayer {
        media_type: media::OCI_LAYER_GZIP.to_string(),
        digest: digest.to_string(),
        size: bytes.len() as u64,
        diff_id: Digest::of(&[bytes.len() as u8, 7]).to_string(),
    }
}

fn key(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn record(n: u8, layers: &[&CacheLayer]) -> CacheRecord {
    CacheRecord {
        key: key(n),
        layers: layers.iter().map(|l| (*l).clone()).collect(),
    }
}

/// A store with three blobs (one of 3 MiB) and four records over them.
fn source(dir: &Path) -> (ContentStore, Vec<CacheLayer>, Vec<CacheRecord>) {
    let store = ContentStore::open(dir).unwrap();
    let layers = vec![
        put(&store, &data(1, 3 * 1024 * 1024 + 17)),
        put(&store, &data(2, 1000)),
        put(&store, &data(3, 1)),
    ];
    let records = vec![
        record(1, &[&layers[0]]),
        record(2, &[&layers[0], &layers[1]]),
        record(3, &[&layers[0], &layers[1], &layers[2]]),
        record(4, &[]),
    ];
    (store, layers, records)
}

/// Fetches `layers` from `cache` into a fresh store and checks each blob's bytes.
async fn fetch_all(cache: &dyn RemoteCache, layers: &[CacheLayer], from: &ContentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path().join("store")).unwrap();
    let tmp = dir.path().join("tmp");
    for l in layers {
        cache.fetch(l, &store, &tmp).await.unwrap();
        let d: Digest = l.digest.parse().unwrap();
        assert_eq!(store.read_blob(&d).unwrap(), from.read_blob(&d).unwrap());
    }
    // The registry cache creates `tmp` if needed; the local cache does not use it.
    let left = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "partial downloads are removed");
}

#[tokio::test]
async fn registry_export_import_round_trip() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let (store, layers, records) = source(dir.path());
    let client = client();
    let options = RegistryExportOptions {
        reference: format!("{}/app:buildcache", reg.addr),
        oci_media_types: true,
    };

    let first = export_to_registry(&records, &store, &client, &options)
        .await
        .unwrap();
    assert_eq!(first.blobs.blobs_uploaded, 3);
    assert_eq!(first.blobs.blobs_skipped, 0);
    let pulled = client
        .pull_manifest(&registry::parse_reference(&options.reference).unwrap())
        .await
        .unwrap();
    assert_eq!(pulled.digest, first.manifest.to_string());
    let Manifest::Image(m) = pulled.manifest else {
        panic!("cache manifest is an image manifest")
    };
    assert_eq!(pulled.media_type, media::OCI_MANIFEST);
    assert_eq!(
        m.config.media_type,
        slipway_worker::remote::CACHE_CONFIG_MEDIA_TYPE
    );
    assert_eq!(m.layers.len(), 3, "every distinct blob is a layer");

    let cache = RegistryCache::open(client, &options.reference)
        .await
        .unwrap();
    assert_eq!(cache.warning(), None);
    assert_eq!(cache.len(), 4);
    assert_eq!(
        cache.lookup(&key(2)).await.unwrap(),
        Some(records[1].layers.clone())
    );
    assert_eq!(cache.lookup(&key(4)).await.unwrap(), Some(vec![]));
    assert_eq!(cache.lookup(&key(9)).await.unwrap(), None);
    assert!(cache.describe().contains(&options.reference));
    fetch_all(&cache, &layers, &store).await;

    // Same records again: every blob is already there.
    let client = self::client();
    let again = export_to_registry(&records, &store, &client, &options)
        .await
        .unwrap();
    assert_eq!(again.blobs.blobs_uploaded, 0);
    assert_eq!(again.blobs.blobs_skipped, 3);
    assert_eq!(again.manifest, first.manifest);

    // One new record with one new blob: only that blob is uploaded.
    let extra = put(&store, &data(4, 4096));
    let mut more = records.clone();
    more.push(record(5, &[&layers[0], &extra]));
    let third = export_to_registry(&more, &store, &client, &options)
        .await
        .unwrap();
    assert_eq!(third.blobs.blobs_uploaded, 1);
    assert_eq!(third.blobs.bytes_uploaded, 4096);
    let cache = RegistryCache::open(client, &options.reference)
        .await
        .unwrap();
    assert_eq!(
        cache.lookup(&key(5)).await.unwrap(),
        Some(more[4].layers.clone())
    );
}

#[tokio::test]
async fn docker_media_types_are_written_and_read() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let (store, layers, records) = source(dir.path());
    let client = client();
    let options = RegistryExportOptions {
        reference: format!("{}/app:cache-docker", reg.addr),
        oci_media_types: false,
    };
    export_to_registry(&records, &store, &client, &options)
        .await
        .unwrap();
    let pulled = client
        .pull_manifest(&registry::parse_reference(&options.reference).unwrap())
        .await
        .unwrap();
    assert_eq!(pulled.media_type, media::DOCKER_MANIFEST);
    let cache = RegistryCache::open(client, &options.reference)
        .await
        .unwrap();
    assert_eq!(cache.lookup(&key(3)).await.unwrap(), Some(layers.clone()));
}

#[tokio::test]
async fn missing_tag_is_an_empty_cache_with_a_warning() {
    let reg = TestRegistry::start();
    for reference in [
        format!("{}/nothing:here", reg.addr),
        format!("{}/app:absent", reg.addr),
    ] {
        let cache = RegistryCache::open(client(), &reference).await.unwrap();
        assert!(cache.is_empty());
        let warning = cache.warning().expect("a warning").to_string();
        assert!(
            warning.contains("failed to import cache") && warning.contains(&reference),
            "{warning}"
        );
        assert_eq!(cache.lookup(&key(1)).await.unwrap(), None);
    }
}

#[tokio::test]
async fn unreachable_registry_is_an_error_not_a_warning() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut config = RegistryConfig::default();
    config.retry.max_attempts = 1;
    let client = RegistryClient::new(config, Default::default());
    let err = RegistryCache::open(client, &format!("127.0.0.1:{port}/a:b"))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteCacheError::Registry { .. }), "{err}");
}

/// Pushes an image (config with inline cache for `records`) whose layers are the record
/// blobs; returns the image manifest.
async fn push_inline_image(
    client: &RegistryClient,
    reference: &str,
    store: &ContentStore,
    layers: &[CacheLayer],
    records: &[CacheRecord],
) -> RawManifest {
    let mut config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| &l.diff_id).collect::<Vec<_>>()},
    });
    config[INLINE_KEY] = inline_cache_value(records);
    let config_digest = store
        .put_bytes(&serde_json::to_vec(&config).unwrap())
        .unwrap();
    let config_desc = Descriptor::new(
        media::OCI_CONFIG,
        &config_digest.to_string(),
        store.size(&config_digest).unwrap(),
    );
    let layer_descs: Vec<Descriptor> = layers
        .iter()
        .map(|l| Descriptor::new(&l.media_type, &l.digest, l.size))
        .collect();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        config: config_desc.clone(),
        layers: layer_descs.clone(),
        annotations: Default::default(),
    };
    let raw = RawManifest::new(media::OCI_MANIFEST, serde_json::to_vec(&manifest).unwrap());
    let blobs = std::iter::once(&config_desc)
        .chain(layer_descs.iter())
        .map(|d| LocalBlob {
            descriptor: d.clone(),
            path: store.blob_path(&d.digest.parse().unwrap()),
        })
        .collect();
    let repo = registry::parse_reference(reference).unwrap();
    let plan = PushPlan {
        blobs,
        children: vec![],
        root: raw.clone(),
    };
    let opts = PushOptions {
        tags: vec![repo.tag().unwrap_or("latest").to_string()],
        ..Default::default()
    };
    client.push(&repo, &plan, &opts).await.unwrap();
    raw
}

#[tokio::test]
async fn inline_cache_of_an_image_and_of_an_index() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let (store, layers, records) = source(dir.path());
    let client = client();
    let image_ref = format!("{}/inline/app:1", reg.addr);
    // The image's layers are those of its final record; inline cache is mode=min.
    let inline_records = vec![records[0].clone(), records[2].clone()];
    let image = push_inline_image(&client, &image_ref, &store, &layers, &inline_records).await;

    let cache = RegistryCache::open(client, &image_ref).await.unwrap();
    assert_eq!(cache.warning(), None);
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.lookup(&key(3)).await.unwrap(), Some(layers.clone()));
    assert_eq!(cache.lookup(&key(2)).await.unwrap(), None);
    fetch_all(&cache, &layers, &store).await;

    // The same image as the only platform of an index.
    let client = self::client();
    let mut entry = image.descriptor();
    entry.platform = Some(registry::PlatformSpec {
        architecture: "amd64".into(),
        os: "linux".into(),
        os_version: None,
        os_features: None,
        variant: None,
    });
    let index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.into()),
        manifests: vec![entry],
        annotations: Default::default(),
    };
    let index_ref = format!("{}/inline/app:multi", reg.addr);
    let raw_index = RawManifest::new(media::OCI_INDEX, serde_json::to_vec(&index).unwrap());
    client
        .push_manifest(&registry::parse_reference(&index_ref).unwrap(), &raw_index)
        .await
        .unwrap();
    let cache = RegistryCache::open(client, &index_ref).await.unwrap();
    assert_eq!(cache.len(), 2);
    assert_eq!(
        cache.lookup(&key(1)).await.unwrap(),
        Some(vec![layers[0].clone()])
    );

    // An image without inline cache: empty, with a warning.
    let client = self::client();
    let plain_ref = format!("{}/inline/plain:1", reg.addr);
    push_inline_image(&client, &plain_ref, &store, &layers[..1], &[]).await;
    let cache = RegistryCache::open(client, &plain_ref).await.unwrap();
    assert!(cache.is_empty());
    assert!(cache
        .warning()
        .is_some_and(|w| w.contains("no slipway cache")));
}

#[tokio::test]
async fn blob_missing_from_the_registry_is_named() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let (store, _, records) = source(dir.path());
    let client = client();
    let reference = format!("{}/app:c", reg.addr);
    let options = RegistryExportOptions {
        reference: reference.clone(),
        oci_media_types: true,
    };
    export_to_registry(&records[..1], &store, &client, &options)
        .await
        .unwrap();
    let cache = RegistryCache::open(client, &reference).await.unwrap();
    let ghost = CacheLayer {
        media_type: media::OCI_LAYER_GZIP.into(),
        digest: Digest::of(b"never pushed").to_string(),
        size: 12,
        diff_id: Digest::of(b"x").to_string(),
    };
    let fresh = tempfile::tempdir().unwrap();
    let target = ContentStore::open(fresh.path()).unwrap();
    let err = cache
        .fetch(&ghost, &target, fresh.path())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RemoteCacheError::BlobUnavailable { digest, .. } if *digest == ghost.digest),
        "{err}"
    );
    assert!(target.list().unwrap().is_empty());
}

/// Pushes a one-config artifact whose config has `config_media_type`; returns its reference.
async fn push_artifact(
    client: &RegistryClient,
    reference: &str,
    store: &ContentStore,
    config_media_type: &str,
) {
    let config = store.put_bytes(br#"{"layers":[],"records":[]}"#).unwrap();
    let config_desc = Descriptor::new(
        config_media_type,
        &config.to_string(),
        store.size(&config).unwrap(),
    );
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        config: config_desc.clone(),
        layers: vec![],
        annotations: Default::default(),
    };
    let repo = registry::parse_reference(reference).unwrap();
    let plan = PushPlan {
        blobs: vec![LocalBlob {
            descriptor: config_desc,
            path: store.blob_path(&config),
        }],
        children: vec![],
        root: RawManifest::new(media::OCI_MANIFEST, serde_json::to_vec(&manifest).unwrap()),
    };
    let opts = PushOptions {
        tags: vec![repo.tag().unwrap_or("latest").to_string()],
        ..Default::default()
    };
    client.push(&repo, &plan, &opts).await.unwrap();
}

#[tokio::test]
async fn foreign_manifests_are_refused_or_warned_about() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let client = std::sync::Arc::new(client());

    let buildkit = format!("{}/bk:cache", reg.addr);
    push_artifact(
        &client,
        &buildkit,
        &store,
        "application/vnd.buildkit.cacheconfig.v0",
    )
    .await;
    let err = RegistryCache::open(client.clone(), &buildkit)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RemoteCacheError::Format { reason, .. } if reason.contains("BuildKit cache")),
        "{err}"
    );

    let other = format!("{}/artifact:1", reg.addr);
    push_artifact(
        &client,
        &other,
        &store,
        "application/vnd.example.thing+json",
    )
    .await;
    let cache = RegistryCache::open(client, &other).await.unwrap();
    assert!(cache.is_empty());
    let warning = cache.warning().expect("a warning");
    assert!(
        warning.contains("application/vnd.example.thing+json"),
        "{warning}"
    );
}

fn blob_files(dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn local_export_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (store, layers, records) = source(&dir.path().join("store"));
    let dest = dir.path().join("cache");
    let digest = export_to_dir(&records, &store, &dest, true).unwrap();
    // 3 layers + config + manifest.
    let before = blob_files(&dest);
    assert_eq!(before.len(), 5);
    assert!(before.iter().any(|(n, _)| *n == digest.hex()));

    let cache = LocalCache::open(&dest).unwrap();
    assert_eq!(cache.len(), 4);
    assert_eq!(cache.lookup(&key(3)).await.unwrap(), Some(layers.clone()));
    assert_eq!(cache.lookup(&key(8)).await.unwrap(), None);
    assert!(cache.describe().contains(&dest.display().to_string()));
    fetch_all(&cache, &layers, &store).await;

    // Again with one more record: the old blobs are kept untouched, one layer, a config and a
    // manifest are added.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let extra = put(&store, &data(9, 77));
    let mut more = records.clone();
    more.push(record(6, &[&extra]));
    let digest2 = export_to_dir(&more, &store, &dest, true).unwrap();
    assert_ne!(digest, digest2);
    let after = blob_files(&dest);
    assert_eq!(after.len(), 8);
    for b in &before {
        assert!(after.contains(b), "{} was rewritten", b.0);
    }
    let cache = LocalCache::open(&dest).unwrap();
    assert_eq!(cache.len(), 5);
    assert_eq!(cache.lookup(&key(6)).await.unwrap(), Some(vec![extra]));
}

#[tokio::test]
async fn corrupted_local_blob_fails_naming_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let (store, layers, records) = source(&dir.path().join("store"));
    let dest = dir.path().join("cache");
    export_to_dir(&records, &store, &dest, true).unwrap();
    let victim = &layers[1];
    let d: Digest = victim.digest.parse().unwrap();
    std::fs::write(dest.join("blobs/sha256").join(d.hex()), data(99, 1000)).unwrap();

    let cache = LocalCache::open(&dest).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let target = ContentStore::open(fresh.path()).unwrap();
    let err = cache
        .fetch(victim, &target, fresh.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&victim.digest), "{err}");
    assert!(!target.exists(&d), "a corrupt blob is not stored");
    // The intact ones still fetch.
    cache
        .fetch(&layers[2], &target, fresh.path())
        .await
        .unwrap();

    std::fs::remove_file(dest.join("blobs/sha256").join(d.hex())).unwrap();
    let err = cache
        .fetch(victim, &target, fresh.path())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RemoteCacheError::BlobUnavailable { digest, .. } if *digest == victim.digest),
        "{err}"
    );
}

#[test]
fn missing_local_cache_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-cache-here");
    let err = LocalCache::open(&missing).unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn cache_of_empty_results_only_has_no_layers() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let (store, _, records) = source(dir.path());
    let client = std::sync::Arc::new(client());
    let options = RegistryExportOptions {
        reference: format!("{}/empty:cache", reg.addr),
        oci_media_types: true,
    };
    let report = export_to_registry(&records[3..], &store, &client, &options)
        .await
        .unwrap();
    assert_eq!(report.blobs, Default::default());
    let cache = RegistryCache::open(client.clone(), &options.reference)
        .await
        .unwrap();
    assert_eq!(cache.lookup(&key(4)).await.unwrap(), Some(vec![]));
    assert_eq!(cache.len(), 1);
}
