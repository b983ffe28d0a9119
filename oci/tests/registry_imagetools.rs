//! imagetools against a real registry: an index stitched from single-platform images pushed by
//! digest in other repositories (blobs mounted), inspected, flattened, and read by skopeo.

mod support;

use slipway_oci::imagetools::{self, CreateOptions, InspectOptions, InspectedContent};
use slipway_oci::registry::{PushOptions, Reference, RegistryError, UploadMode};
use support::image::small_image;
use support::{client, skopeo, TestRegistry};

#[tokio::test]
async fn create_inspect_and_flatten() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let c = client(UploadMode::Monolithic);

    // Three single-platform images, each pushed by digest only into its own repository.
    let mut sources: Vec<Reference> = Vec::new();
    let mut images = Vec::new();
    for (p, repo) in [
        ("linux/amd64", "src/amd64"),
        ("linux/arm64", "src/arm64"),
        ("linux/arm/v7", "src/armv7"),
    ] {
        let img = small_image(dir.path(), p, "it");
        let r = reg.reference(&format!("{repo}:unused"));
        let report = c
            .push(&r, &img.plan(), &PushOptions::default())
            .await
            .unwrap();
        assert!(report.tags.is_empty());
        sources.push(
            format!("{}/{repo}@{}", reg.addr, report.digest)
                .parse()
                .unwrap(),
        );
        images.push(img);
    }
    // Pushed by digest only: the reference's tag was not created.
    let untagged = c.pull_manifest(&reg.reference("src/amd64:unused")).await;
    assert!(
        matches!(untagged, Err(RegistryError::NotFound { .. })),
        "{untagged:?}"
    );

    // Stitch two of them under a tag in a new repository.
    let target = reg.reference("stitched/app:v1");
    let opts = CreateOptions {
        index_annotations: [(
            "org.opencontainers.image.title".to_string(),
            "stitched".to_string(),
        )]
        .into(),
        ..Default::default()
    };
    let created = imagetools::create(&c, std::slice::from_ref(&target), &sources[..2], &opts)
        .await
        .unwrap();
    assert_eq!(created.pushed, vec![target.to_string()]);
    let blob_count: u64 = images[..2].iter().map(|i| i.blobs.len() as u64).sum();
    assert_eq!(created.copy.blobs_mounted, blob_count, "{:?}", created.copy);
    assert_eq!(created.copy.blobs_uploaded, 0);
    assert_eq!(c.resolve(&target).await.unwrap(), created.digest);

    // Inspect: an index of the two platforms; text like buildx's; raw bytes; JSON.
    let ins = imagetools::inspect(&c, &target, &InspectOptions::default())
        .await
        .unwrap();
    assert_eq!(ins.digest, created.digest);
    assert_eq!(ins.raw(), &created.index.bytes[..]);
    let InspectedContent::Index {
        manifests,
        annotations,
    } = &ins.content
    else {
        panic!("not an index")
    };
    let plats: Vec<_> = manifests
        .iter()
        .map(|m| m.platform.clone().unwrap_or_default())
        .collect();
    assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
    assert_eq!(
        annotations
            .get("org.opencontainers.image.title")
            .map(String::as_str),
        Some("stitched")
    );
    assert_eq!(manifests[1].digest, images[1].manifest.digest());
    let text = ins.to_string();
    assert!(
        text.starts_with(&format!("Name:      {target}\n")),
        "{text}"
    );
    assert!(text.contains("\nManifests:\n"), "{text}");
    assert!(
        text.contains(&format!(
            "  Name:        {}/stitched/app@{}\n",
            reg.addr, manifests[1].digest
        )),
        "{text}"
    );
    assert!(text.contains("  Platform:    linux/arm64\n"), "{text}");
    let json = ins.to_json();
    assert_eq!(json["digest"], created.digest.as_str());
    assert_eq!(
        json["manifest"]["manifests"].as_array().map(Vec::len),
        Some(2)
    );

    // A single manifest inspects with its config summary.
    let one = imagetools::inspect(&c, &sources[2], &InspectOptions::default())
        .await
        .unwrap();
    match &one.content {
        InspectedContent::Image {
            image: Some(summary),
            layers,
            ..
        } => {
            assert_eq!(summary.platform.to_string(), "linux/arm/v7");
            assert_eq!(summary.cmd, vec!["/bin/sh"]);
            assert_eq!(layers.len(), 1);
        }
        other => panic!("expected an image, got {other:?}"),
    }

    // skopeo reads the stitched index and can copy every platform out of the target repo.
    let src = format!("docker://{}/stitched/app:v1", reg.addr);
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &src]);
    assert_eq!(raw.as_bytes(), &created.index.bytes[..]);
    let layout = dir.path().join("layout");
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &src,
        &format!("oci:{}:v1", layout.display()),
    ]);

    // Flattening: the index plus the third image give a 3-platform index.
    let target2 = reg.reference("stitched/app:all");
    let sources2 = vec![target.clone(), sources[2].clone()];
    let flat = imagetools::create(
        &c,
        std::slice::from_ref(&target2),
        &sources2,
        &CreateOptions::default(),
    )
    .await
    .unwrap();
    let ins = imagetools::inspect(&c, &target2, &InspectOptions::default())
        .await
        .unwrap();
    let InspectedContent::Index { manifests, .. } = &ins.content else {
        panic!("not an index")
    };
    assert_eq!(manifests.len(), 3);
    assert_eq!(
        flat.copy.blobs_mounted,
        images[2].blobs.len() as u64,
        "{:?}",
        flat.copy
    );

    // Dry run pushes nothing.
    let dry = CreateOptions {
        dry_run: true,
        ..Default::default()
    };
    let d = imagetools::create(&c, &[], &sources[..1], &dry)
        .await
        .unwrap();
    assert!(d.pushed.is_empty());
}
