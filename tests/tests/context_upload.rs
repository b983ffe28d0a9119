//! The incremental build context of farm builds, end to end: a real coordinator and worker,
//! a 200 MB context of 10,000 files, two builds with one file changed in between. The
//! second build must upload less than 1 MB (counted by the client, and bounded by what
//! appeared in the worker's content store), and its image must hold the changed content.
//!
//! Needs root, docker-registry, skopeo and umoci (scripts/setup.sh).

use anyhow::{bail, Context, Result};
use slipway_e2e::builders::slipway::{skopeo_from_registry, Slipway};
use slipway_e2e::cluster::{Cluster, ClusterOptions};
use slipway_e2e::process::run;
use slipway_e2e::registry::Registry;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

const FILES: usize = 10_000;
const FILE_SIZE: usize = 20 * 1024;
const DIRS: usize = 100;
/// The file the Dockerfile copies and the second build changes.
const PROBE: &str = "data/d07/f00703.bin";

/// Deterministic, incompressible-looking bytes (xorshift64).
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write_context(root: &Path) -> Result<()> {
    std::fs::write(
        root.join("Dockerfile"),
        format!("FROM scratch\nCOPY {PROBE} /probe.bin\n"),
    )?;
    for i in 0..FILES {
        let dir = root.join(format!("data/d{:02}", i / (FILES / DIRS)));
        if i % (FILES / DIRS) == 0 {
            std::fs::create_dir_all(&dir)?;
        }
        std::fs::write(dir.join(format!("f{i:05}.bin")), bytes(FILE_SIZE, i as u64))?;
    }
    Ok(())
}

/// The client's summary line: `context: N files, X bytes, uploaded M files / Y bytes ...`.
#[derive(Debug)]
struct Summary {
    files: u64,
    bytes: u64,
    uploaded_files: u64,
    uploaded_bytes: u64,
}

fn summary(stderr: &str) -> Result<Summary> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("context: "))
        .with_context(|| format!("no context summary line in:\n{stderr}"))?;
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match nums.as_slice() {
        [files, bytes, uploaded_files, uploaded_bytes, ..] => Ok(Summary {
            files: *files,
            bytes: *bytes,
            uploaded_files: *uploaded_files,
            uploaded_bytes: *uploaded_bytes,
        }),
        _ => bail!("unexpected summary line {line:?}"),
    }
}

/// Sizes of the blobs in the worker's content store, by name.
fn store_blobs(worker_dir: &Path) -> Result<BTreeMap<String, u64>> {
    let dir = worker_dir.join("content/blobs/sha256");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        out.insert(
            e.file_name().to_string_lossy().into_owned(),
            e.metadata()?.len(),
        );
    }
    Ok(out)
}

fn build(cluster: &Cluster, ctx: &Path, cache: &Path, tag: &str) -> Result<Summary> {
    let started = Instant::now();
    let out = run(cluster
        .cli()
        .env("XDG_CACHE_HOME", cache)
        .args(["build", "--progress", "plain", "-t", tag, "--push"])
        .arg(ctx))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let s = summary(&stderr)?;
    eprintln!("{tag}: {s:?} in {:?}", started.elapsed());
    Ok(s)
}

fn probe_in_image(tag: &str, work: &Path) -> Result<Vec<u8>> {
    let layout = work.join("layout");
    skopeo_from_registry(tag, &layout, "probe")?;
    let bundle = work.join("bundle");
    let image = slipway_e2e::image::unpack(&layout, "probe", &bundle)?;
    std::fs::read(image.rootfs.join("probe.bin")).context("reading /probe.bin of the image")
}

#[test]
fn second_build_uploads_only_the_changed_file() -> Result<()> {
    let registry = Registry::start().context("starting docker-registry")?;
    let slipway = Slipway::locate(registry.addr()).context("locating slipway")?;
    let cluster = Cluster::start(slipway.bin(), &ClusterOptions::single("none", 2))?;
    let work = tempfile::tempdir()?;
    let ctx = work.path().join("ctx");
    let cache = work.path().join("cache");
    std::fs::create_dir_all(&ctx)?;
    write_context(&ctx)?;
    let reg = registry.addr();

    let first = build(&cluster, &ctx, &cache, &format!("{reg}/ctx/app:1"))?;
    assert_eq!(first.files, FILES as u64 + 1, "{first:?}");
    assert!(first.bytes >= (FILES * FILE_SIZE) as u64, "{first:?}");
    assert_eq!(first.uploaded_files, first.files, "{first:?}");
    assert!(first.uploaded_bytes >= first.bytes, "{first:?}");

    let before = store_blobs(&cluster.dir().join("worker-1"))?;
    let changed = bytes(FILE_SIZE, 0xC0FFEE);
    std::fs::write(ctx.join(PROBE), &changed)?;
    let tag = format!("{reg}/ctx/app:2");
    let second = build(&cluster, &ctx, &cache, &tag)?;
    assert_eq!(second.files, first.files, "{second:?}");
    assert_eq!(second.uploaded_files, 1, "{second:?}");
    assert!(
        second.uploaded_bytes < 1024 * 1024,
        "the second build uploaded {} bytes",
        second.uploaded_bytes
    );
    // Server side: everything the second build added to the worker's store (the uploads,
    // plus the build's own layer, config and manifest) stays under 1 MB.
    let after = store_blobs(&cluster.dir().join("worker-1"))?;
    let added: u64 = after
        .iter()
        .filter(|(name, _)| !before.contains_key(*name))
        .map(|(_, size)| size)
        .sum();
    assert!(
        added < 1024 * 1024,
        "{added} bytes of new blobs on the worker"
    );
    assert!(
        after.contains_key(&hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            &changed
        ))),
        "the changed file's blob is not in the worker's store"
    );

    assert_eq!(probe_in_image(&tag, work.path())?, changed);
    Ok(())
}
