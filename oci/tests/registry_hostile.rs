//! Broken registry answers give clear errors naming the reference, never panics.

mod support;

use slipway_oci::registry::{Descriptor, RegistryError, UploadMode};
use support::canned::{Canned, CannedRegistry};
use support::client;

fn sha(b: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn answer(suffix: &str, body: &[u8], headers: &[(&str, &str)]) -> Canned {
    Canned {
        path_suffix: suffix.to_string(),
        status: 200,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

#[tokio::test]
async fn malformed_and_mismatching_answers() {
    support::crypto();
    let garbage = b"{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\", \"manifests\": [{\"digest\": 7}]}";
    let good_blob = b"real blob content";
    let liar = b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:00\",\"size\":1},\"layers\":[]}";
    let wrong_digest = format!("sha256:{}", "1".repeat(64));
    let reg = CannedRegistry::start(vec![
        answer(
            "/manifests/garbage",
            garbage,
            &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        ),
        answer("/manifests/notjson", b"<html>oops</html>", &[]),
        answer(
            "/manifests/liar",
            liar,
            &[("Docker-Content-Digest", wrong_digest.as_str())],
        ),
        answer(&format!("/blobs/{}", sha(b"expected")), good_blob, &[]),
    ])
    .await;
    let c = client(UploadMode::Monolithic);
    let r = |tail: &str| -> slipway_oci::registry::Reference {
        format!("{}/h/app:{tail}", reg.addr).parse().unwrap()
    };

    let err = c.pull_manifest(&r("garbage")).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::MalformedManifest { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("h/app:garbage"), "{err}");

    let err = c.pull_manifest(&r("notjson")).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::MalformedManifest { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("h/app:notjson"), "{err}");

    let err = c.pull_manifest(&r("liar")).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("h/app:liar"), "{err}");

    // A blob whose bytes do not hash to the digest asked for.
    let desc = Descriptor::new("x", &sha(b"expected"), good_blob.len() as u64);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("blob");
    let err = c.pull_blob_to_file(&r("x"), &desc, &out).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("h/app@sha256:"), "{err}");
    assert!(!out.exists() && !dir.path().join("blob.partial").exists());

    // A blob longer than its descriptor says is cut off as a size mismatch.
    let short = Descriptor::new("x", &sha(b"expected"), 4);
    let err = c
        .pull_blob_to_file(&r("x"), &short, &out)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::SizeMismatch { .. }), "{err:?}");
}
