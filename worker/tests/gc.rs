//! Garbage collection on a real data dir: blobs ingested into the content store, layers
//! committed through the snapshotter, cache records written through the cache index.
//! Nothing runs a container (the executor refuses), so neither runc nor root's overlayfs
//! is needed.

use std::fs::{self, File, FileTimes};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oci_spec::image::{DescriptorBuilder, MediaType};
use slipway_oci::{ContentStore, Digest};
use slipway_worker::cache::{CacheIndex, KeyBuilder, LayerBlob, ResultRecord};
use slipway_worker::executor::{BoxFuture, Executor, ExitStatus, ProcessIo, RunSpec};
use slipway_worker::gc::{self, GcOptions, ItemKind};
use slipway_worker::snapshot::{BackendChoice, ChainId};
use slipway_worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

const HOUR: Duration = Duration::from_secs(3600);

/// These tests build content without running anything.
struct NoRuns;

impl Executor for NoRuns {
    fn run<'a>(
        &'a self,
        spec: RunSpec,
        _io: ProcessIo,
        _cancel: CancellationToken,
    ) -> BoxFuture<'a, slipway_worker::executor::Result<ExitStatus>> {
        panic!("gc tests run nothing, yet {:?} was run", spec.args)
    }
}

fn open(dir: &Path) -> Worker {
    let config = WorkerConfig {
        data_dir: dir.to_path_buf(),
        snapshot_backend: BackendChoice::Copy,
        ..WorkerConfig::default()
    };
    Worker::with_executor(config, Arc::new(NoRuns)).unwrap()
}

fn chain(n: u8) -> ChainId {
    format!("sha256:{}", hex_of(n)).parse().unwrap()
}

fn hex_of(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// Commits layer `n` on `parent` with a file of `size` bytes.
fn commit(w: &Worker, n: u8, parent: Option<u8>, size: usize) -> ChainId {
    let s = w.snapshotter();
    let p = s
        .prepare_layer_dir(&chain(n), parent.map(chain).as_ref())
        .unwrap();
    fs::write(p.path().join(format!("file-{n}")), vec![n; size]).unwrap();
    s.commit(p).unwrap();
    chain(n)
}

fn set_times(path: &Path, at: SystemTime) {
    let times = FileTimes::new().set_accessed(at).set_modified(at);
    File::open(path).unwrap().set_times(times).unwrap();
}

/// Makes snapshot `c` look last used at `at`.
fn age_snapshot(w: &Worker, c: &ChainId, at: SystemTime) {
    let dir: PathBuf = w.snapshotter().layer_dir(c).unwrap();
    let top = dir.parent().unwrap();
    set_times(&top.join("meta.json"), at);
    set_times(top, at);
}

fn age_blob(w: &Worker, d: &Digest, at: SystemTime) {
    set_times(&w.store().blob_path(d), at);
}

fn put(store: &ContentStore, bytes: &[u8]) -> Digest {
    store.put_bytes(bytes).unwrap()
}

/// Stores a one-layer image and names it; returns (manifest, config, layer).
fn pinned_image(store: &ContentStore, name: &str) -> [Digest; 3] {
    let layer = put(store, &[9u8; 5000]);
    let config = put(store, br#"{"architecture":"amd64","os":"linux"}"#);
    let manifest = put(
        store,
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":5000}}]}}"#
        )
        .as_bytes(),
    );
    let desc = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .digest(manifest.to_oci())
        .size(1u64)
        .build()
        .unwrap();
    store.set_ref(name, &desc).unwrap();
    [manifest, config, layer]
}

fn ids(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn all_keeps_pinned_images_and_removes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let store = w.store().clone();
    let pinned = pinned_image(&store, "example.com/app:v1");
    let loose = put(&store, b"an unpinned layer");
    let base = commit(&w, 1, None, 10_000);
    let child = commit(&w, 2, Some(1), 10_000);
    let index = CacheIndex::open(tmp.path().join("cache")).unwrap();
    let key = KeyBuilder::new("test").part("step", "one").finish();
    index
        .put_result(
            &key,
            &ResultRecord {
                chain: Some(child.clone()),
            },
        )
        .unwrap();
    let blob = LayerBlob {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        digest: loose.to_string(),
        size: 17,
        diff_id: format!("sha256:{}", hex_of(7)),
    };
    index.put_layer(&child, "source", &blob).unwrap();

    let before = gc::usage(&w).unwrap();
    assert_eq!(before.snapshots.count, 2);
    assert_eq!(before.blobs.count, 4);
    assert_eq!(before.pinned_blobs.count, 3);

    let opts = GcOptions {
        all: true,
        ..GcOptions::default()
    };
    let report = gc::collect(&w, &opts).unwrap();
    assert_eq!(ids(&report.removed_blobs), [loose.to_string().as_str()]);
    assert_eq!(
        ids(&report.removed_snapshots),
        [child.as_str(), base.as_str()],
        "children go before their parents"
    );
    assert_eq!(report.removed_records, 2, "the result and the layer record");
    let mut kept = report.kept_pinned.clone();
    kept.sort();
    let mut want: Vec<String> = pinned.iter().map(|d| d.to_string()).collect();
    want.sort();
    assert_eq!(kept, want);
    assert_eq!(report.bytes_freed + report.bytes_remaining, before.total());

    for d in &pinned {
        assert!(store.exists(d), "pinned {d} removed");
    }
    assert!(!store.exists(&loose));
    assert!(!w.snapshotter().contains(&base) && !w.snapshotter().contains(&child));
    assert_eq!(index.result(&key).unwrap(), None);
    assert_eq!(index.layer(&child, "source").unwrap(), None);
    let after = gc::usage(&w).unwrap();
    assert_eq!(after.snapshots.count, 0);
    assert_eq!(after.blobs, after.pinned_blobs);

    // The data dir stays usable: reopened, the same chain commits again.
    drop(w);
    let w = open(tmp.path());
    assert!(!w.snapshotter().contains(&base));
    commit(&w, 1, None, 10);
    assert!(w.snapshotter().contains(&base));
}

#[test]
fn keep_bytes_keeps_the_most_recently_used() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let store = w.store().clone();
    let now = SystemTime::now();
    let old = put(&store, &[1u8; 20_000]);
    let mid = put(&store, &[2u8; 20_000]);
    let new = put(&store, &[3u8; 20_000]);
    age_blob(&w, &old, now - HOUR * 3);
    age_blob(&w, &mid, now - HOUR * 2);
    age_blob(&w, &new, now - HOUR);
    let usage = gc::usage(&w).unwrap();
    let size_of = |d: &Digest| {
        usage
            .items
            .iter()
            .find(|i| i.id == d.to_string())
            .map(|i| i.bytes)
            .unwrap()
    };
    let opts = GcOptions {
        keep_bytes: Some(size_of(&new) + size_of(&mid)),
        ..GcOptions::default()
    };
    let report = gc::collect(&w, &opts).unwrap();
    assert_eq!(ids(&report.removed_blobs), [old.to_string().as_str()]);
    let opts = GcOptions {
        keep_bytes: Some(size_of(&new)),
        ..GcOptions::default()
    };
    let report = gc::collect(&w, &opts).unwrap();
    assert_eq!(ids(&report.removed_blobs), [mid.to_string().as_str()]);
    assert!(store.exists(&new));
    assert_eq!(gc::usage(&w).unwrap().total(), size_of(&new));
}

#[test]
fn a_used_child_keeps_its_old_parent_and_nothing_dangles() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let now = SystemTime::now();
    let base = commit(&w, 1, None, 30_000);
    let recent = commit(&w, 2, Some(1), 1000);
    let stale = commit(&w, 3, Some(1), 1000);
    let stale_top = commit(&w, 4, Some(3), 1000);
    age_snapshot(&w, &base, now - HOUR * 48);
    age_snapshot(&w, &recent, now - HOUR);
    age_snapshot(&w, &stale, now - HOUR * 48);
    age_snapshot(&w, &stale_top, now - HOUR * 30);

    let opts = GcOptions {
        keep_duration: Some(HOUR * 24),
        ..GcOptions::default()
    };
    let report = gc::collect(&w, &opts).unwrap();
    assert_eq!(
        ids(&report.removed_snapshots),
        [stale_top.as_str(), stale.as_str()]
    );
    assert!(w.snapshotter().contains(&base) && w.snapshotter().contains(&recent));
    assert_eq!(w.snapshotter().chain(&recent).unwrap().len(), 2);

    // The oldest snapshot is the parent of the newest: the size limit takes both or neither.
    let opts = GcOptions {
        keep_bytes: Some(1),
        ..GcOptions::default()
    };
    let report = gc::collect(&w, &opts).unwrap();
    assert_eq!(
        ids(&report.removed_snapshots),
        [recent.as_str(), base.as_str()]
    );
    assert_eq!(gc::usage(&w).unwrap().snapshots.count, 0);
}

#[test]
fn default_removes_only_what_nothing_leads_to() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let store = w.store().clone();
    let base = commit(&w, 1, None, 100);
    let recorded = commit(&w, 2, Some(1), 100);
    let orphan = commit(&w, 3, Some(1), 100);
    let named = put(&store, b"named by a layer record");
    let loose = put(&store, b"named by nothing");
    let index = CacheIndex::open(tmp.path().join("cache")).unwrap();
    let key = KeyBuilder::new("test").finish();
    index
        .put_result(
            &key,
            &ResultRecord {
                chain: Some(recorded.clone()),
            },
        )
        .unwrap();
    let blob = LayerBlob {
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        digest: named.to_string(),
        size: 23,
        diff_id: named.to_string(),
    };
    index.put_layer(&recorded, "source", &blob).unwrap();

    let report = gc::collect(&w, &GcOptions::default()).unwrap();
    assert_eq!(ids(&report.removed_snapshots), [orphan.as_str()]);
    assert_eq!(ids(&report.removed_blobs), [loose.to_string().as_str()]);
    assert_eq!(report.removed_records, 0);
    assert!(w.snapshotter().contains(&base) && w.snapshotter().contains(&recorded));
    assert!(store.exists(&named));
    assert_eq!(
        index.result(&key).unwrap().and_then(|r| r.chain),
        Some(recorded)
    );
}

#[test]
fn cache_mounts_are_collected_only_when_included() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let mount = tmp
        .path()
        .join("cache-mounts")
        .join("go-build-0123456789abcdef");
    fs::create_dir_all(mount.join("sub")).unwrap();
    fs::write(mount.join("sub/obj"), vec![0u8; 8192]).unwrap();
    let all = GcOptions {
        all: true,
        ..GcOptions::default()
    };
    let report = gc::collect(&w, &all).unwrap();
    assert!(report.removed_cache_mounts.is_empty() && mount.is_dir());
    let usage = gc::usage(&w).unwrap();
    assert_eq!(usage.cache_mounts.count, 1);
    assert!(usage.cache_mounts.bytes >= 8192);
    let with = GcOptions {
        include_cache_mounts: true,
        ..all
    };
    let report = gc::collect(&w, &with).unwrap();
    assert_eq!(
        ids(&report.removed_cache_mounts),
        ["go-build-0123456789abcdef"]
    );
    assert!(report
        .removed
        .iter()
        .all(|i| i.kind == ItemKind::CacheMount));
    assert!(!mount.exists());
}

#[test]
fn a_named_image_whose_manifest_is_unreadable_stops_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let w = open(tmp.path());
    let store = w.store().clone();
    let junk = put(&store, b"not a manifest");
    let loose = put(&store, b"loose");
    let desc = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .digest(junk.to_oci())
        .size(1u64)
        .build()
        .unwrap();
    store.set_ref("example.com/broken:1", &desc).unwrap();
    let all = GcOptions {
        all: true,
        ..GcOptions::default()
    };
    let err = gc::collect(&w, &all).unwrap_err();
    assert!(err.to_string().contains("example.com/broken:1"), "{err}");
    assert!(store.exists(&loose), "nothing removed after the refusal");
}
