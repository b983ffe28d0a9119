use super::*;
use std::os::unix::fs::MetadataExt;

fn entry(path: &str, kind: EntryKind, mode: u32) -> ManifestEntry {
    ManifestEntry {
        path: path.into(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 1_600_000_000,
        mtime_nsec: 5,
        link_target: None,
        digest: None,
    }
}

/// A blob directory holding `contents`, and a manifest file entry for each.
struct Blobs {
    dir: tempfile::TempDir,
}

impl Blobs {
    fn new() -> Blobs {
        Blobs {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, path: &str, content: &[u8], mode: u32) -> ManifestEntry {
        let digest = Digest::of_bytes(content);
        std::fs::write(self.dir.path().join(digest.hex()), content).unwrap();
        ManifestEntry {
            size: content.len() as u64,
            digest: Some(digest),
            ..entry(path, EntryKind::File, mode)
        }
    }

    fn lookup(&self) -> impl Fn(&Digest) -> Result<PathBuf, UnpackError> + '_ {
        |d| Ok(self.dir.path().join(d.hex()))
    }
}

fn dest() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let ctx = root.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    (root, ctx)
}

#[test]
fn materializes_files_dirs_symlinks_with_modes_and_mtimes() {
    let blobs = Blobs::new();
    let m = ContextManifest::new(vec![
        blobs.file("Dockerfile", b"FROM scratch\n", 0o644),
        entry("ro", EntryKind::Dir, 0o555),
        ManifestEntry {
            link_target: Some("/etc/passwd".into()),
            ..entry("ro/abs", EntryKind::Symlink, 0o777)
        },
        blobs.file("ro/run.sh", b"#!/bin/sh\n", 0o755),
        // same content twice: one blob
        blobs.file("same", b"FROM scratch\n", 0o600),
    ])
    .unwrap();
    let (_root, ctx) = dest();
    let report = materialize(&m, &ctx, blobs.lookup()).unwrap();
    assert_eq!(report.entries, 5);
    assert_eq!(report.bytes, 13 + 10 + 13);
    assert_eq!(
        std::fs::read(ctx.join("ro/run.sh")).unwrap(),
        b"#!/bin/sh\n"
    );
    let meta = std::fs::metadata(ctx.join("ro/run.sh")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o755);
    assert_eq!((meta.mtime(), meta.mtime_nsec()), (1_600_000_000, 5));
    assert_eq!(
        std::fs::metadata(ctx.join("ro")).unwrap().mode() & 0o7777,
        0o555
    );
    assert_eq!(
        std::fs::metadata(ctx.join("ro")).unwrap().mtime(),
        1_600_000_000
    );
    // stored, never followed
    assert_eq!(
        std::fs::read_link(ctx.join("ro/abs")).unwrap(),
        PathBuf::from("/etc/passwd")
    );
    assert_eq!(
        std::fs::symlink_metadata(ctx.join("ro/abs"))
            .unwrap()
            .mtime(),
        1_600_000_000
    );
    assert_eq!(
        std::fs::metadata(ctx.join("same")).unwrap().mode() & 0o7777,
        0o600
    );
    // the copy is not the store's inode: changing it leaves the blob alone
    std::fs::set_permissions(&ctx, Permissions::from_mode(0o755)).unwrap();
    std::fs::write(ctx.join("same"), b"changed").unwrap();
    let blob = blobs
        .dir
        .path()
        .join(Digest::of_bytes(b"FROM scratch\n").hex());
    assert_eq!(std::fs::read(blob).unwrap(), b"FROM scratch\n");
}

#[test]
fn a_blob_of_the_wrong_size_or_a_missing_blob_is_an_error() {
    let blobs = Blobs::new();
    let mut f = blobs.file("f", b"abc", 0o644);
    f.size = 4;
    let m = ContextManifest::new(vec![f]).unwrap();
    let (_root, ctx) = dest();
    let err = materialize(&m, &ctx, blobs.lookup()).unwrap_err();
    assert!(err.to_string().contains("size"), "{err}");

    let absent = ManifestEntry {
        size: 1,
        digest: Some(Digest::of_bytes(b"nowhere")),
        ..entry("g", EntryKind::File, 0o644)
    };
    let m = ContextManifest::new(vec![absent]).unwrap();
    let (_root, ctx) = dest();
    let err = materialize(&m, &ctx, blobs.lookup()).unwrap_err();
    assert!(matches!(err, UnpackError::Io { .. }), "{err}");
}

#[test]
fn an_existing_symlink_in_dest_is_not_written_through() {
    // dest is expected empty; if something sits there, creation fails instead of following it
    let blobs = Blobs::new();
    let (root, ctx) = dest();
    let outside = root.path().join("outside");
    std::os::unix::fs::symlink(&outside, ctx.join("f")).unwrap();
    let m = ContextManifest::new(vec![blobs.file("f", b"x", 0o644)]).unwrap();
    assert!(materialize(&m, &ctx, blobs.lookup()).is_err());
    assert!(!outside.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_come_from_a_peer_and_what_it_lacks_is_reported() {
    slipway_tls::install_crypto_provider();
    let peer_dir = tempfile::tempdir().unwrap();
    let peer_store = slipway_dataplane::BlobStoreDir::open(peer_dir.path()).unwrap();
    let mut held = Vec::new();
    for i in 0..40u32 {
        let content = format!("file {i}").repeat(1000).into_bytes();
        let d = Digest::of_bytes(&content);
        std::fs::write(peer_store.blob_path(&d.as_str().parse().unwrap()), &content).unwrap();
        held.push(d);
    }
    let server = slipway_dataplane::BlobServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        &slipway_tls::Security::Insecure,
        peer_store,
    )
    .await
    .unwrap();

    let local = tempfile::tempdir().unwrap();
    let peers = Peers {
        store: Arc::new(slipway_oci::ContentStore::open(local.path().join("content")).unwrap()),
        downloads: local.path().join("downloads"),
        security: slipway_tls::Security::Insecure,
    };
    let absent = Digest::of_bytes(b"nobody has this");
    let mut wanted = held.clone();
    wanted.push(absent.clone());
    let (still, bytes) = peers
        .fetch_from(TaskId::new(), &server.local_addr().to_string(), &wanted)
        .await
        .unwrap();
    assert_eq!(still, vec![absent]);
    assert!(bytes >= 40 * 6000, "{bytes}");
    for d in &held {
        let path = blob_path(&peers.store, d).unwrap();
        assert_eq!(Digest::of_bytes(&std::fs::read(path).unwrap()), *d);
    }
    // nothing is left in the staging directory
    assert_eq!(std::fs::read_dir(&peers.downloads).unwrap().count(), 0);
}
