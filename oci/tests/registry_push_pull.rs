//! Push and pull against a real `docker-registry`: a 3-platform index, platform selection,
//! skopeo reading it back, skip-on-second-push, cross-repository mounts, chunked and
//! monolithic uploads, and clear not-found errors.

mod support;

use slipway_oci::registry::{Manifest, PushOptions, RegistryError, UploadMode};
use support::image::{big_tar_layer, gzip_layer, image_from_layers, index_plan, small_image};
use support::{client, skopeo, TestRegistry};

const PLATFORMS: [&str; 3] = ["linux/amd64", "linux/arm64", "linux/arm/v7"];

#[tokio::test]
async fn multi_platform_index_round_trip() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let images: Vec<_> = PLATFORMS
        .iter()
        .map(|p| small_image(dir.path(), p, "v1"))
        .collect();
    let plan = index_plan(&images);
    let c = client(UploadMode::Monolithic);
    let repo = reg.reference("multi/app:v1");
    let opts = PushOptions {
        tags: vec!["v1".into()],
        ..Default::default()
    };

    let first = c.push(&repo, &plan, &opts).await.unwrap();
    assert_eq!(first.digest, plan.root.digest());
    assert_eq!(first.blobs_uploaded, plan.blobs.len() as u64);
    assert_eq!((first.blobs_skipped, first.blobs_mounted), (0, 0));
    assert_eq!(first.manifests_pushed, 4);
    let expected_bytes: u64 = plan.blobs.iter().map(|b| b.descriptor.size).sum();
    assert_eq!(first.bytes_uploaded, expected_bytes);
    let uploads_after_first = reg.requests("PUT /v2/multi/app/blobs/uploads/").len();
    assert_eq!(
        uploads_after_first,
        plan.blobs.len(),
        "one PUT per blob:\n{}",
        reg.log()
    );

    // The tag resolves to the index, and the index is served byte for byte.
    assert_eq!(c.resolve(&repo).await.unwrap(), first.digest);
    let top = c.pull_manifest(&repo).await.unwrap();
    assert_eq!(top.bytes, plan.root.bytes);
    let Manifest::Index(index) = &top.manifest else {
        panic!("expected an index")
    };
    assert_eq!(index.manifests.len(), 3);

    // Multi-arch base image pull for each platform, also through containerd's aliases.
    for (img, alias) in images
        .iter()
        .zip(["linux/x86_64", "linux/arm64/v8", "linux/arm"])
    {
        for p in [img.platform.to_string(), alias.to_string()] {
            let pulled = c.pull_image(&repo, &p.parse().unwrap()).await.unwrap();
            assert_eq!(pulled.manifest_digest, img.manifest.digest(), "{p}");
            assert_eq!(pulled.index_digest.as_deref(), Some(first.digest.as_str()));
            assert_eq!(pulled.bytes, img.manifest.bytes);
            assert_eq!(pulled.manifest.layers, img.layers);
        }
        // Blobs come back to disk verified.
        for blob in &img.blobs {
            let out = dir.path().join("pulled");
            let n = c
                .pull_blob_to_file(&repo, &blob.descriptor, &out)
                .await
                .unwrap();
            assert_eq!(n, blob.descriptor.size);
            assert_eq!(
                std::fs::read(&out).unwrap(),
                std::fs::read(&blob.path).unwrap()
            );
        }
    }
    let missing = c
        .pull_image(&repo, &"linux/s390x".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(missing, RegistryError::NoMatchingPlatform { .. }),
        "{missing}"
    );
    assert!(
        missing.to_string().contains("multi/app:v1")
            && missing.to_string().contains("linux/arm/v7"),
        "{missing}"
    );

    // skopeo reads the index and copies every platform.
    let src = format!("docker://{}/multi/app:v1", reg.addr);
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &src]);
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let plats: Vec<String> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let variant = p["variant"]
                .as_str()
                .map(|s| format!("/{s}"))
                .unwrap_or_default();
            format!(
                "{}/{}{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap(),
                variant
            )
        })
        .collect();
    assert_eq!(plats, PLATFORMS);
    let layout = dir.path().join("layout");
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &src,
        &format!("oci:{}:v1", layout.display()),
    ]);
    assert!(layout.join("index.json").exists());
    for img in &images {
        let hex = img
            .manifest
            .digest()
            .trim_start_matches("sha256:")
            .to_string();
        assert!(
            layout.join("blobs/sha256").join(hex).exists(),
            "skopeo copied {}",
            img.platform
        );
    }

    // A second push uploads nothing: counted by us and by the registry's access log.
    let second = c.push(&repo, &plan, &opts).await.unwrap();
    assert_eq!(second.blobs_uploaded, 0);
    assert_eq!(second.bytes_uploaded, 0);
    assert_eq!(second.blobs_skipped, plan.blobs.len() as u64);
    assert_eq!(second.digest, first.digest);
    assert_eq!(
        reg.requests("PUT /v2/multi/app/blobs/uploads/").len(),
        uploads_after_first
    );
    assert_eq!(
        reg.requests("POST /v2/multi/app/blobs/uploads/").len(),
        uploads_after_first
    );
}

#[tokio::test]
async fn blobs_in_another_repository_are_mounted() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let shared = gzip_layer(dir.path(), &[("base/os-release", b"ID=test\n")]);
    let base = image_from_layers(dir.path(), "linux/amd64", vec![shared.clone()]);
    let c = client(UploadMode::Monolithic);
    let base_ref = reg.reference("library/base:1");
    c.push(
        &base_ref,
        &base.plan(),
        &PushOptions {
            tags: vec!["1".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The derived image shares the base layer and adds one of its own.
    let own = gzip_layer(dir.path(), &[("app/bin", b"#!/bin/sh\necho app\n")]);
    let app = image_from_layers(dir.path(), "linux/amd64", vec![shared.clone(), own]);
    let app_ref = reg.reference("team/app:1");
    let opts = PushOptions {
        tags: vec!["1".into()],
        mount_from: vec![base_ref.clone()],
    };
    let report = c.push(&app_ref, &app.plan(), &opts).await.unwrap();
    assert_eq!(report.blobs_mounted, 1, "{report:?}");
    assert_eq!(report.bytes_mounted, shared.0.descriptor.size);
    assert_eq!(
        report.blobs_uploaded, 2,
        "own layer and config are uploaded: {report:?}"
    );
    let mounts: Vec<_> = reg
        .requests("POST /v2/team/app/blobs/uploads/?mount=")
        .into_iter()
        .filter(|l| l.contains("&from=library%2Fbase "))
        .collect();
    assert_eq!(
        mounts.len(),
        3,
        "a mount is tried for every missing blob:\n{}",
        mounts.join("\n")
    );
    let mounts_201: Vec<_> = mounts.iter().filter(|l| l.contains("\" 201 ")).collect();
    assert_eq!(
        mounts_201.len(),
        1,
        "one successful mount:\n{}",
        mounts.join("\n")
    );
    assert!(mounts_201[0].contains(&shared.0.descriptor.digest.replace(':', "%3A")));
    // The two blobs the base lacks were asked for (202) and then uploaded.
    assert_eq!(reg.requests("PUT /v2/team/app/blobs/uploads/").len(), 2);
    let pulled = c
        .pull_image(&app_ref, &"linux/amd64".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(pulled.manifest.layers.len(), 2);
}

#[tokio::test]
async fn chunked_and_monolithic_uploads_of_a_multi_megabyte_layer() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let size = 9 * 1024 * 1024 + 123;
    for (mode, repo, seed) in [
        (UploadMode::Chunked, "big/chunked", 1),
        (UploadMode::Monolithic, "big/mono", 2),
    ] {
        let layer = big_tar_layer(dir.path(), seed, size);
        let diff_id = layer.descriptor.digest.clone();
        let img = image_from_layers(dir.path(), "linux/amd64", vec![(layer.clone(), diff_id)]);
        let c = client(mode);
        let r = reg.reference(&format!("{repo}:1"));
        let report = c
            .push(
                &r,
                &img.plan(),
                &PushOptions {
                    tags: vec!["1".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(report.blobs_uploaded, 2);
        assert_eq!(
            report.bytes_uploaded,
            layer.descriptor.size + img.config.size
        );
        let patches = reg.requests(&format!("PATCH /v2/{repo}/blobs/uploads/"));
        match mode {
            // 9 MiB in 4 MiB chunks: 3 PATCHes for the layer, 1 for the config.
            UploadMode::Chunked => assert_eq!(patches.len(), 4, "{}", patches.join("\n")),
            UploadMode::Monolithic => assert!(patches.is_empty(), "{}", patches.join("\n")),
        }
        let out = dir.path().join(format!("{seed}.back"));
        c.pull_blob_to_file(&r, &layer.descriptor, &out)
            .await
            .unwrap();
        assert_eq!(
            std::fs::metadata(&out).unwrap().len(),
            layer.descriptor.size
        );
    }
}

#[tokio::test]
async fn missing_tag_names_the_reference() {
    let reg = TestRegistry::start();
    let c = client(UploadMode::Monolithic);
    let r = reg.reference("nothing/here:nope");
    let err = c.pull_manifest(&r).await.unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("{}/nothing/here:nope", reg.addr)),
        "{err}"
    );
    let err = c.resolve(&r).await.unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    let blob =
        slipway_oci::registry::Descriptor::new("x", &format!("sha256:{}", "ab".repeat(32)), 3);
    let err = c
        .pull_blob_to_file(&r, &blob, &reg.scratch().join("nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("nothing/here@sha256:abab"),
        "{err}"
    );
    assert!(!reg.scratch().join("nope.partial").exists());
}
