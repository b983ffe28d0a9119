//! Synthetic images for the registry tests: real tar layers (gzip or plain), a config, an OCI
//! manifest, and indexes over them. Blobs are written to files named by digest.

use sha2::{Digest as _, Sha256};
use slipway_graph::Platform;
use slipway_oci::registry::manifest::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST};
use slipway_oci::registry::{Descriptor, Index, LocalBlob, PlatformSpec, PushPlan, RawManifest};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// A synthetic single-platform image on disk.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub platform: Platform,
    pub blobs: Vec<LocalBlob>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub manifest: RawManifest,
}

impl BuiltImage {
    /// A plan pushing just this image.
    pub fn plan(&self) -> PushPlan {
        PushPlan {
            blobs: self.blobs.clone(),
            children: Vec::new(),
            root: self.manifest.clone(),
        }
    }
}

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn store(dir: &Path, bytes: &[u8], media_type: &str) -> LocalBlob {
    let digest = sha(bytes);
    let path = dir.join(digest.replace(':', "_"));
    std::fs::write(&path, bytes).expect("write blob");
    LocalBlob {
        descriptor: Descriptor::new(media_type, &digest, bytes.len() as u64),
        path,
    }
}

/// A gzip tar layer holding `files`; returns the blob and the diff id.
pub fn gzip_layer(dir: &Path, files: &[(&str, &[u8])]) -> (LocalBlob, String) {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, *data).expect("tar append");
    }
    let raw = tar.into_inner().expect("tar finish");
    let diff_id = sha(&raw);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).expect("gzip");
    let blob = store(dir, &gz.finish().expect("gzip finish"), OCI_LAYER_GZIP);
    (blob, diff_id)
}

/// Deterministic incompressible bytes (xorshift), streamed.
pub struct Noise {
    state: u64,
    left: u64,
}

impl Noise {
    pub fn new(seed: u64, len: u64) -> Noise {
        Noise {
            state: seed | 1,
            left: len,
        }
    }
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let bytes = self.state.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// An uncompressed tar layer with one file of `size` noise bytes, streamed to disk and hashed
/// by streaming (never in memory).
pub fn big_tar_layer(dir: &Path, seed: u64, size: u64) -> LocalBlob {
    let tmp = dir.join(format!("big-{seed}.tar"));
    {
        let file = std::fs::File::create(&tmp).expect("create layer");
        let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, "noise.bin", Noise::new(seed, size))
            .expect("tar append");
        tar.into_inner()
            .expect("tar finish")
            .flush()
            .expect("flush");
    }
    let mut hasher = Sha256::new();
    let mut f = std::fs::File::open(&tmp).expect("open layer");
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).expect("read layer");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    let path: PathBuf = dir.join(digest.replace(':', "_"));
    std::fs::rename(&tmp, &path).expect("rename layer");
    LocalBlob {
        descriptor: Descriptor::new(OCI_LAYER_TAR, &digest, total),
        path,
    }
}

/// An image for `platform` over the given layers (blob, diff id); a config and manifest are added.
pub fn image_from_layers(
    dir: &Path,
    platform: &str,
    layers: Vec<(LocalBlob, String)>,
) -> BuiltImage {
    let platform: Platform = platform.parse().expect("platform");
    let diff_ids: Vec<&str> = layers.iter().map(|(_, d)| d.as_str()).collect();
    let mut config = serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"Cmd": ["/bin/sh"], "Env": [format!("PLATFORM={platform}")]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    if !platform.variant.is_empty() {
        config["variant"] = serde_json::json!(platform.variant);
    }
    let config_blob = store(
        dir,
        &serde_json::to_vec(&config).expect("config json"),
        OCI_CONFIG,
    );
    let layer_descs: Vec<Descriptor> = layers.iter().map(|(b, _)| b.descriptor.clone()).collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_blob.descriptor,
        "layers": layer_descs,
    });
    let manifest = RawManifest::new(
        OCI_MANIFEST,
        serde_json::to_vec(&manifest).expect("manifest json"),
    );
    let mut blobs: Vec<LocalBlob> = layers.into_iter().map(|(b, _)| b).collect();
    let config_desc = config_blob.descriptor.clone();
    blobs.push(config_blob);
    BuiltImage {
        platform,
        blobs,
        config: config_desc,
        layers: layer_descs,
        manifest,
    }
}

/// A small image with one gzip layer whose content depends on `platform` and `tag`.
pub fn small_image(dir: &Path, platform: &str, tag: &str) -> BuiltImage {
    let content = format!("hello from {platform} ({tag})\n");
    let layer = gzip_layer(
        dir,
        &[
            ("etc/hello", content.as_bytes()),
            ("etc/platform", platform.as_bytes()),
        ],
    );
    image_from_layers(dir, platform, vec![layer])
}

/// An OCI index over `images` with their platforms, and the plan pushing all of it.
pub fn index_plan(images: &[BuiltImage]) -> PushPlan {
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_string()),
        manifests: images
            .iter()
            .map(|img| {
                let mut d = img.manifest.descriptor();
                d.platform = Some(PlatformSpec::from_platform(&img.platform));
                d
            })
            .collect(),
        annotations: Default::default(),
    };
    let root = RawManifest::new(OCI_INDEX, serde_json::to_vec(&index).expect("index json"));
    let mut blobs: Vec<LocalBlob> = Vec::new();
    for img in images {
        for b in &img.blobs {
            if !blobs
                .iter()
                .any(|x| x.descriptor.digest == b.descriptor.digest)
            {
                blobs.push(b.clone());
            }
        }
    }
    PushPlan {
        blobs,
        children: images.iter().map(|i| i.manifest.clone()).collect(),
        root,
    }
}
