//! Deterministic layers: same tree content + same SOURCE_DATE_EPOCH = same digests, wherever the
//! tree lives and whatever its mtimes after the epoch; different content = different digests.

use slipway_oci::layer::{decompress, write_dir_layer, CompressionOptions, LayerOptions};
use slipway_oci::Digest;
use std::io::Read;
use std::path::Path;
use std::process::Command;

fn sh(script: &str, dir: &Path) {
    let st = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "script failed: {script}");
}

fn make_tree(dir: &Path, touch: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let long = "n".repeat(150);
    sh(
        &format!(
            "mkdir -p a/b c; echo one > a/one; echo two > a/b/two; seq 1 20000 > c/big; \
             ln -s ../a/one c/link; ln a/one a/hard; mkdir -p deep/{long}; echo x > deep/{long}/{long}; \
             touch -d '{touch}' a/one a/b/two c/big a a/b c deep; touch -h -d '{touch}' c/link"
        ),
        dir,
    );
}

fn layer(dir: &Path, opts: &LayerOptions) -> (Vec<u8>, slipway_oci::layer::LayerInfo) {
    write_dir_layer(dir, Vec::new(), opts).unwrap()
}

#[test]
fn same_tree_same_epoch_same_digests() {
    let base = tempfile::tempdir().unwrap();
    let epoch = 1_600_000_000i64;
    make_tree(&base.path().join("one"), "2022-01-01 00:00:00");
    make_tree(&base.path().join("elsewhere/two"), "2023-06-01 12:34:56");
    for compression in [
        CompressionOptions::gzip(),
        CompressionOptions::zstd(),
        CompressionOptions::uncompressed(),
    ] {
        let opts = LayerOptions {
            compression,
            source_date_epoch: Some(epoch),
            ..Default::default()
        };
        let (blob1, a) = layer(&base.path().join("one"), &opts);
        let (_, b) = layer(&base.path().join("elsewhere/two"), &opts);
        assert_eq!(a, b, "{compression:?}");
        assert_eq!(a.digest, Digest::of(&blob1));
        assert_eq!(a.size, blob1.len() as u64);
        let mut plain = Vec::new();
        decompress(&blob1[..])
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(a.diff_id, Digest::of(&plain));
        assert_eq!(a.uncompressed_size, plain.len() as u64);
        // Every header: numeric ids only, mtime clamped.
        let mut ar = tar::Archive::new(&plain[..]);
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert!(h.mtime().unwrap() as i64 <= epoch);
            assert_eq!(h.username_bytes().unwrap_or_default(), b"");
            assert_eq!(h.groupname_bytes().unwrap_or_default(), b"");
        }
    }
}

#[test]
fn diff_ids_agree_across_compressions_and_content_changes_show() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("t");
    make_tree(&dir, "2022-01-01 00:00:00");
    let with = |c| LayerOptions {
        compression: c,
        source_date_epoch: Some(1_700_000_000),
        ..Default::default()
    };
    let (_, gz) = layer(&dir, &with(CompressionOptions::gzip()));
    let (_, zs) = layer(&dir, &with(CompressionOptions::zstd()));
    assert_eq!(gz.diff_id, zs.diff_id);
    assert_ne!(gz.digest, zs.digest);
    assert!(gz.media_type.ends_with("+gzip") && zs.media_type.ends_with("+zstd"));
    std::fs::write(dir.join("a/b/two"), b"TWO\n").unwrap();
    sh("touch -d '2022-01-01 00:00:00' a/b/two", &dir);
    let (_, changed) = layer(&dir, &with(CompressionOptions::gzip()));
    assert_ne!(changed.diff_id, gz.diff_id);
    assert_ne!(changed.digest, gz.digest);
}

#[test]
fn gzip_layers_pass_gzip_t_and_list_with_tar() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("t");
    make_tree(&dir, "2022-01-01 00:00:00");
    let (blob, _) = layer(&dir, &LayerOptions::default());
    let path = base.path().join("l.tgz");
    std::fs::write(&path, &blob).unwrap();
    let st = Command::new("gzip").arg("-t").arg(&path).status().unwrap();
    assert!(st.success(), "gzip -t refused the layer");
    let out = Command::new("tar")
        .arg("-tzvf")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("c/link -> ../a/one"), "{listing}");
    assert!(
        listing.contains("a/hard link to a/one") || listing.contains("a/one link to a/hard"),
        "{listing}"
    );
    assert!(
        listing.contains(&"n".repeat(150)),
        "long names survive (PAX)"
    );
}
