//! Content store: verified ingest, verified reads, references.

use slipway_oci::store::{ContentStore, StoreError};
use slipway_oci::Digest;
use std::io::Read;

#[test]
fn wrong_expected_digest_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let wrong = Digest::of(b"something else");
    let err = store.ingest(&b"payload"[..], Some(&wrong)).unwrap_err();
    assert!(
        matches!(err, StoreError::DigestMismatch { expected, .. } if expected == wrong),
        "{err:?}"
    );
    assert!(store.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(dir.path().join("ingest"))
            .unwrap()
            .count(),
        0,
        "temp file left behind"
    );
    assert!(!store.exists(&Digest::of(b"payload")));
    let (d, n) = store
        .ingest(&b"payload"[..], Some(&Digest::of(b"payload")))
        .unwrap();
    assert_eq!((d, n), (Digest::of(b"payload"), 7));
}

#[test]
fn corrupted_blob_fails_verification_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let d = store.put_bytes(b"original content").unwrap();
    std::fs::write(store.blob_path(&d), b"tampered content").unwrap();
    let err = store.read_blob(&d).unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err:?}");
    let mut r = store.open_blob(&d).unwrap();
    let mut sink = Vec::new();
    assert!(r.read_to_end(&mut sink).is_err());
}

#[test]
fn dropped_writer_leaves_nothing_and_reopen_cleans_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    {
        let mut w = store.writer().unwrap();
        std::io::Write::write_all(&mut w, b"half").unwrap();
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("ingest"))
            .unwrap()
            .count(),
        0
    );
    std::fs::write(dir.path().join("ingest/stale"), b"x").unwrap();
    let _store = ContentStore::open(dir.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("ingest"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn references_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    let d = store.put_bytes(b"{}").unwrap();
    let desc =
        oci_spec::image::Descriptor::new(oci_spec::image::MediaType::ImageManifest, 2, d.to_oci());
    store.set_ref("example.com/app:v1", &desc).unwrap();
    store.set_ref("example.com/app:v2", &desc).unwrap();
    assert_eq!(
        store.get_ref("example.com/app:v1").unwrap(),
        Some(desc.clone())
    );
    let reopened = ContentStore::open(dir.path()).unwrap();
    assert_eq!(reopened.refs().unwrap().len(), 2);
    assert!(reopened.remove_ref("example.com/app:v1").unwrap());
    assert!(!reopened.remove_ref("example.com/app:v1").unwrap());
    assert_eq!(reopened.get_ref("example.com/app:v1").unwrap(), None);
    assert!(matches!(
        store.set_ref("", &desc),
        Err(StoreError::RefName { .. })
    ));
}
