//! OCI image layout: `oci-layout`, `index.json` and `blobs/sha256/*`, as a directory or a tar.
//! `index.json` lists the exported root (manifest or index) with `org.opencontainers.image.ref.name`
//! (the tag) and `io.containerd.image.name` (the full name) when a name is given, as BuildKit does.

use super::archive::ArchiveWriter;
use super::{io_err, reachable_blobs, tag_of, ExportError, ExportReport, ExportSource, Exporter};
use crate::digest::Digest;
use crate::image::json::canonical_json;
use crate::image::OciAnnotation;
use oci_spec::image::{Descriptor, ImageIndexBuilder, MediaType};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

const LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Writes an OCI layout directory (created if missing; existing blobs are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciLayoutDir {
    pub path: PathBuf,
}

/// Writes an OCI layout as a tar file (`oci-archive:` in skopeo's terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciLayoutTar {
    pub path: PathBuf,
}

fn index_json(source: &ExportSource<'_>) -> Result<Vec<u8>, ExportError> {
    let mut root: Descriptor = source.root.clone();
    if let Some(name) = &source.name {
        let mut a: HashMap<String, String> = root.annotations().clone().unwrap_or_default();
        a.insert(OciAnnotation::RefName.key().into(), tag_of(name));
        a.insert("io.containerd.image.name".into(), name.clone());
        root.set_annotations(Some(a));
    }
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![root])
        .build()
        .map_err(|source| crate::image::ImageError::Spec {
            what: "layout index",
            source,
        })?;
    canonical_json(&index).map_err(|source| {
        crate::image::ImageError::Json {
            what: "layout index",
            source,
        }
        .into()
    })
}

impl Exporter for OciLayoutDir {
    fn export(&self, source: &ExportSource<'_>) -> Result<ExportReport, ExportError> {
        let blobs_dir = self.path.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs_dir).map_err(io_err(&blobs_dir, "create"))?;
        let blobs = reachable_blobs(source.store, &source.root)?;
        for d in &blobs {
            let digest = Digest::try_from(d.digest())?;
            let dest = blobs_dir.join(digest.hex());
            if dest.is_file() {
                continue;
            }
            let mut reader = source.store.open_blob(&digest)?;
            let mut tmp = tempfile::NamedTempFile::new_in(&blobs_dir)
                .map_err(io_err(&blobs_dir, "temp file"))?;
            std::io::copy(&mut reader, &mut tmp).map_err(io_err(&dest, "copy blob"))?;
            tmp.as_file().sync_all().map_err(io_err(&dest, "fsync"))?;
            tmp.persist(&dest)
                .map_err(|e| io_err(&dest, "rename")(e.error))?;
        }
        let write = |name: &str, bytes: &[u8]| {
            let p = self.path.join(name);
            std::fs::write(&p, bytes).map_err(io_err(&p, "write"))
        };
        write("oci-layout", LAYOUT)?;
        write("index.json", &index_json(source)?)?;
        Ok(ExportReport {
            path: self.path.clone(),
            items: blobs.len(),
        })
    }
}

impl Exporter for OciLayoutTar {
    fn export(&self, source: &ExportSource<'_>) -> Result<ExportReport, ExportError> {
        let file = std::fs::File::create(&self.path).map_err(io_err(&self.path, "create"))?;
        let mut ar = ArchiveWriter::new(std::io::BufWriter::new(file), &self.path);
        ar.bytes("oci-layout", LAYOUT)?;
        ar.bytes("index.json", &index_json(source)?)?;
        ar.dir("blobs/")?;
        ar.dir("blobs/sha256/")?;
        let blobs = reachable_blobs(source.store, &source.root)?;
        let mut sorted: Vec<Digest> = blobs
            .iter()
            .map(|d| Digest::try_from(d.digest()))
            .collect::<Result<_, _>>()?;
        sorted.sort();
        sorted.dedup();
        for digest in &sorted {
            let size = source.store.size(digest)?;
            let reader = source.store.open_blob(digest)?;
            ar.file(&format!("blobs/sha256/{}", digest.hex()), size, reader)?;
        }
        let mut out = ar.finish()?;
        out.flush().map_err(io_err(&self.path, "flush"))?;
        let file = out
            .into_inner()
            .map_err(|e| io_err(&self.path, "flush")(e.into_error()))?;
        file.sync_all().map_err(io_err(&self.path, "fsync"))?;
        Ok(ExportReport {
            path: self.path.clone(),
            items: sorted.len(),
        })
    }
}
