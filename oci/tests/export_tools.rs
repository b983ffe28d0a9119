//! Exports checked by independent tools: skopeo (OCI layout, oci-archive, docker-archive, a
//! 3-platform index) and umoci (unpack). The tools are required: the setup script installs them.

use slipway_graph::Platform;
use slipway_oci::export::{
    DockerArchive, ExportSource, Exporter, LocalDir, OciLayoutDir, OciLayoutTar, RootfsTar,
};
use slipway_oci::image::{
    write_image, write_index, HistoryEntry, ImageInput, ImageLayer, ImageOptions, IndexOptions,
    OciAnnotation,
};
use slipway_oci::layer::{write_dir_layer, ApplyOptions, CompressionOptions, LayerOptions};
use slipway_oci::store::ContentStore;
use slipway_oci::MediaTypes;
use std::path::Path;
use std::process::Command;

fn tool(name: &str) -> Command {
    let path = format!("/usr/bin/{name}");
    assert!(
        Path::new(&path).exists(),
        "{name} is required for this test (installed by the project's setup script) but {path} is missing"
    );
    Command::new(path)
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small two-layer image for `platform` in `store`.
fn image(
    store: &ContentStore,
    base: &Path,
    platform: &str,
    media: MediaTypes,
    compression: CompressionOptions,
) -> slipway_oci::image::ImageRef {
    let platform: Platform = platform.parse().unwrap();
    let l1 = base.join(format!("l1-{platform}").replace('/', "_"));
    let l2 = base.join(format!("l2-{platform}").replace('/', "_"));
    std::fs::create_dir_all(l1.join("etc")).unwrap();
    std::fs::write(
        l1.join("etc/os-release"),
        format!("ID=slipway\nPLATFORM={platform}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(l2.join("app")).unwrap();
    std::fs::write(l2.join("app/hello.txt"), b"hello from slipway\n").unwrap();
    let lopts = LayerOptions {
        compression,
        source_date_epoch: Some(1_700_000_000),
        media_types: media,
    };
    let mut layers = Vec::new();
    for dir in [&l1, &l2] {
        let (_, info) = write_dir_layer(dir, store.writer().unwrap(), &lopts)
            .map(|(w, info)| (w.commit(Some(&info.digest)).unwrap(), info))
            .unwrap();
        layers.push(ImageLayer {
            descriptor: info.descriptor(),
            diff_id: info.diff_id,
        });
    }
    let input = ImageInput {
        platform,
        config: None,
        author: None,
        layers,
        history: vec![
            HistoryEntry {
                created_by: "ADD etc /etc".into(),
                ..Default::default()
            },
            HistoryEntry {
                created_by: "ENV A=b".into(),
                empty_layer: true,
                ..Default::default()
            },
            HistoryEntry {
                created_by: "COPY app /app".into(),
                ..Default::default()
            },
        ],
    };
    let mut opts = ImageOptions {
        media_types: media,
        source_date_epoch: Some(1_700_000_000),
        ..Default::default()
    };
    if media == MediaTypes::Oci {
        opts = opts
            .annotate(OciAnnotation::Source, "https://example.com/repo")
            .annotate(OciAnnotation::Revision, "abc123");
        opts.annotate_created = true;
    }
    write_image(store, &input, &opts).unwrap()
}

#[test]
fn oci_archive_is_accepted_by_skopeo_and_layout_by_umoci() {
    let base = tempfile::tempdir().unwrap();
    let b = base.path();
    let store = ContentStore::open(b.join("store")).unwrap();
    let img = image(
        &store,
        b,
        "linux/amd64",
        MediaTypes::Oci,
        CompressionOptions::gzip(),
    );
    let src = ExportSource {
        store: &store,
        root: img.manifest.clone(),
        name: Some("example.com/app:v1".into()),
    };

    let tar = b.join("image.tar");
    OciLayoutTar { path: tar.clone() }.export(&src).unwrap();
    let mut cmd = tool("skopeo");
    cmd.args([
        "copy",
        &format!("oci-archive:{}:v1", tar.display()),
        &format!("oci:{}:copied", b.join("copied").display()),
    ]);
    run(cmd);
    let mut cmd = tool("skopeo");
    cmd.args([
        "inspect",
        "--raw",
        &format!("oci:{}:copied", b.join("copied").display()),
    ]);
    let raw = run(cmd);
    assert!(raw.contains(&img.config_digest.to_string()), "{raw}");

    let layout = b.join("layout");
    OciLayoutDir {
        path: layout.clone(),
    }
    .export(&src)
    .unwrap();
    let bundle = b.join("bundle");
    let mut cmd = tool("umoci");
    cmd.args([
        "unpack",
        "--image",
        &format!("{}:v1", layout.display()),
        bundle.to_str().unwrap(),
    ]);
    run(cmd);
    assert_eq!(
        std::fs::read(bundle.join("rootfs/app/hello.txt")).unwrap(),
        b"hello from slipway\n"
    );
    assert!(
        std::fs::read_to_string(bundle.join("rootfs/etc/os-release"))
            .unwrap()
            .contains("linux/amd64")
    );
}

#[test]
fn docker_archive_is_accepted_by_skopeo() {
    let base = tempfile::tempdir().unwrap();
    let b = base.path();
    let store = ContentStore::open(b.join("store")).unwrap();
    let img = image(
        &store,
        b,
        "linux/amd64",
        MediaTypes::Docker,
        CompressionOptions::gzip(),
    );
    assert_eq!(
        img.manifest.media_type().to_string(),
        slipway_oci::media::DOCKER_MANIFEST
    );
    let src = ExportSource {
        store: &store,
        root: img.manifest.clone(),
        name: Some("example.com/app:v1".into()),
    };
    let tar = b.join("docker.tar");
    DockerArchive {
        path: tar.clone(),
        platform: None,
    }
    .export(&src)
    .unwrap();
    let mut cmd = tool("skopeo");
    cmd.args([
        "copy",
        &format!("docker-archive:{}", tar.display()),
        &format!("oci:{}:loaded", b.join("out").display()),
    ]);
    run(cmd);
    let mut cmd = tool("skopeo");
    cmd.args(["inspect", &format!("docker-archive:{}", tar.display())]);
    let info = run(cmd);
    assert!(info.contains("\"Architecture\": \"amd64\""), "{info}");
    assert!(
        info.contains("example.com/app") || info.contains("Layers"),
        "{info}"
    );
}

#[test]
fn three_platform_index_reads_back_with_skopeo() {
    let base = tempfile::tempdir().unwrap();
    let b = base.path();
    let store = ContentStore::open(b.join("store")).unwrap();
    let platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
    let manifests: Vec<_> = platforms
        .iter()
        .map(|p| image(&store, b, p, MediaTypes::Oci, CompressionOptions::zstd()).manifest)
        .collect();
    let mut iopts = IndexOptions::default();
    iopts
        .annotations
        .insert(OciAnnotation::Revision.key().into(), "abc123".into());
    let (index, index_digest) = write_index(&store, &manifests, &iopts).unwrap();
    let src = ExportSource {
        store: &store,
        root: index.clone(),
        name: Some("example.com/multi:latest".into()),
    };
    let layout = b.join("layout");
    OciLayoutDir {
        path: layout.clone(),
    }
    .export(&src)
    .unwrap();
    let mut cmd = tool("skopeo");
    cmd.args([
        "inspect",
        "--raw",
        &format!("oci:{}:latest", layout.display()),
    ]);
    let raw = run(cmd);
    assert_eq!(
        slipway_oci::Digest::of(raw.trim_end().as_bytes()),
        index_digest,
        "skopeo returned other bytes: {raw}"
    );
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let got: Vec<String> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(var) = p["variant"].as_str() {
                s = format!("{s}/{var}");
            }
            s
        })
        .collect();
    assert_eq!(got, platforms);
    // skopeo resolves the arm64 image out of the index (by platform).
    let mut cmd = tool("skopeo");
    cmd.args([
        "--override-arch",
        "arm64",
        "inspect",
        "--config",
        &format!("oci:{}:latest", layout.display()),
    ]);
    let config = run(cmd);
    assert!(config.contains("\"architecture\": \"arm64\""), "{config}");

    // Local exports of one platform.
    let arm = Platform::linux("arm", "v7");
    let dir = b.join("rootfs-arm");
    LocalDir {
        path: dir.clone(),
        platform: Some(arm.clone()),
        apply: ApplyOptions::default(),
    }
    .export(&src)
    .unwrap();
    assert!(std::fs::read_to_string(dir.join("etc/os-release"))
        .unwrap()
        .contains("linux/arm/v7"));
    let tar = b.join("rootfs.tar");
    RootfsTar {
        path: tar.clone(),
        platform: Some(arm),
        apply: ApplyOptions::default(),
        source_date_epoch: Some(1),
    }
    .export(&src)
    .unwrap();
    let listing = run({
        let mut c = Command::new("tar");
        c.arg("-tvf").arg(&tar);
        c
    });
    assert!(listing.contains("app/hello.txt"), "{listing}");
    let err = DockerArchive {
        path: b.join("x.tar"),
        platform: None,
    }
    .export(&src)
    .unwrap_err();
    assert!(err.to_string().contains("3 platforms"), "{err}");
}
