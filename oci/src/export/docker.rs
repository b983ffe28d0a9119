//! docker-archive (the `docker save`/`docker load` format) for one platform: `manifest.json`,
//! `<config hex>.json`, `<diffID hex>/layer.tar` (uncompressed, checked against the diffID) and
//! `repositories` when the image has a name.

use super::archive::ArchiveWriter;
use super::{
    io_err, pick_manifest, resolve_image, tag_of, ExportError, ExportReport, ExportSource, Exporter,
};
use crate::digest::HashingWriter;
use slipway_graph::Platform;
use std::collections::{BTreeMap, HashSet};
use std::io::{Seek, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerArchive {
    pub path: PathBuf,
    /// Which manifest of an index to export; required when there is more than one.
    pub platform: Option<Platform>,
}

#[derive(serde::Serialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

impl Exporter for DockerArchive {
    fn export(&self, source: &ExportSource<'_>) -> Result<ExportReport, ExportError> {
        let manifest = pick_manifest(source, self.platform.as_ref())?;
        let image = resolve_image(source.store, &manifest)?;
        let file = std::fs::File::create(&self.path).map_err(io_err(&self.path, "create"))?;
        let mut ar = ArchiveWriter::new(std::io::BufWriter::new(file), &self.path);
        let config_name = format!("{}.json", image.config_digest.hex());
        let config = source.store.read_blob(&image.config_digest)?;
        ar.bytes(&config_name, &config)?;
        let mut layer_names = Vec::new();
        let mut written = HashSet::new();
        for (index, (desc, diff_id)) in image.layers.iter().enumerate() {
            let name = format!("{}/layer.tar", diff_id.hex());
            layer_names.push(name.clone());
            if !written.insert(*diff_id) {
                continue;
            }
            // Decompress to a temp file first: the tar header needs the size, and the diffID
            // is checked before anything is written.
            let blob = crate::digest::Digest::try_from(desc.digest())?;
            let reader = source.store.open_blob(&blob)?;
            let mut plain =
                crate::layer::decompress(reader).map_err(io_err(&self.path, "decompress layer"))?;
            let tmp = tempfile::tempfile().map_err(io_err(&self.path, "temp file"))?;
            let mut hw = HashingWriter::new(tmp);
            std::io::copy(&mut plain, &mut hw).map_err(io_err(&self.path, "decompress layer"))?;
            let (mut tmp, actual, size) = hw.finish();
            if actual != *diff_id {
                return Err(ExportError::DiffIdMismatch {
                    index,
                    digest: blob,
                    expected: *diff_id,
                    actual,
                });
            }
            tmp.flush().map_err(io_err(&self.path, "temp file"))?;
            tmp.rewind().map_err(io_err(&self.path, "temp file"))?;
            ar.dir(&format!("{}/", diff_id.hex()))?;
            ar.file(&name, size, tmp)?;
        }
        let repo_tags: Vec<String> = source
            .name
            .iter()
            .map(|n| {
                if n.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                    n.clone()
                } else {
                    format!("{n}:latest")
                }
            })
            .collect();
        let entry = ManifestEntry {
            config: config_name,
            repo_tags: repo_tags.clone(),
            layers: layer_names,
        };
        let manifest_json =
            serde_json::to_vec(&[entry]).map_err(|source| crate::image::ImageError::Json {
                what: "docker manifest.json",
                source,
            })?;
        ar.bytes("manifest.json", &manifest_json)?;
        if let (Some(name), Some((_, top))) = (&source.name, image.layers.last()) {
            let tag = tag_of(name);
            let repo = name
                .strip_suffix(&format!(":{tag}"))
                .unwrap_or(name)
                .to_string();
            let mut repos: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            repos.entry(repo).or_default().insert(tag, top.hex());
            let bytes =
                serde_json::to_vec(&repos).map_err(|source| crate::image::ImageError::Json {
                    what: "docker repositories",
                    source,
                })?;
            ar.bytes("repositories", &bytes)?;
        }
        let out = ar.finish()?;
        let file = out
            .into_inner()
            .map_err(|e| io_err(&self.path, "flush")(e.into_error()))?;
        file.sync_all().map_err(io_err(&self.path, "fsync"))?;
        Ok(ExportReport {
            path: self.path.clone(),
            items: written.len(),
        })
    }
}
