//! What a solve is asked to do and what it hands back.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::image::Descriptor;
use slipway_graph::{Graph, ImageConfig, Platform};
use slipway_oci::layer::CompressionOptions;
use slipway_oci::MediaTypes;

/// One build: a graph plus everything the client provides at run time.
#[derive(Debug, Clone, Default)]
pub struct SolveRequest {
    pub graph: Graph,
    /// Local contexts by name (`context` for the main build context).
    pub locals: BTreeMap<String, LocalSource>,
    /// Secrets by id; read only when a RUN step mounts them.
    pub secrets: BTreeMap<String, SecretSource>,
    /// SSH agents by id (`default` when `--mount=type=ssh` names none).
    pub ssh: BTreeMap<String, SshSource>,
    /// Entitlements the build asks for (buildx's `--allow`); granted only when the worker
    /// allows them too.
    pub allow: std::collections::BTreeSet<slipway_graph::Entitlement>,
    /// Ignore cache hits (everything runs; results still refresh the cache).
    pub no_cache: bool,
    /// Re-resolve base image tags even when an earlier solve resolved them.
    pub pull: bool,
    /// `SOURCE_DATE_EPOCH`: clamps layer mtimes and sets the image `created` time.
    pub source_date_epoch: Option<i64>,
    /// How the final images are written.
    pub export: ExportOptions,
    /// Where to look for results this worker lacks, in order (after its own index).
    pub cache_imports: Vec<std::sync::Arc<dyn crate::remote::RemoteCache>>,
    /// How many of the first `cache_imports` hold this build's own results (the stage
    /// tasks a farm task depends on): those are consulted even with `no_cache`, as a
    /// vertex is solved once per build.
    pub pinned_imports: usize,
    /// Which results to hand back as portable records ([`SolveResult::cache`]); `None`:
    /// none.
    pub cache_export: Option<CacheExportOptions>,
}

/// Which results a solve returns as cache records, and how layers made for them are
/// compressed (existing blobs are reused as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheExportOptions {
    pub mode: slipway_farm::cache::CacheMode,
    /// `None`: the image export's compression.
    pub compression: Option<CompressionOptions>,
}

impl CacheExportOptions {
    /// What a solve must hand back for the `--cache-to` exports `to`: `Max` if any
    /// non-inline export asks for it (inline records are only the image's own layers), else
    /// `Min`; the first export's compression.
    pub fn for_exports(to: &[slipway_farm::cache::CacheExport]) -> CacheExportOptions {
        use slipway_farm::cache::{CacheCompression, CacheExportTarget, CacheMode};
        use slipway_oci::layer::Compression;
        let mode = if to
            .iter()
            .any(|e| e.mode == CacheMode::Max && e.target != CacheExportTarget::Inline)
        {
            CacheMode::Max
        } else {
            CacheMode::Min
        };
        let compression = to.iter().find_map(|e| {
            e.compression.map(|c| CompressionOptions {
                kind: match c {
                    CacheCompression::Gzip => Compression::Gzip,
                    CacheCompression::Zstd => Compression::Zstd,
                    CacheCompression::Uncompressed => Compression::None,
                },
                level: e.compression_level,
                threads: 0,
            })
        });
        CacheExportOptions { mode, compression }
    }
}

/// A directory on this machine serving a local context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalSource {
    pub dir: PathBuf,
    /// `.dockerignore` patterns (added to the graph's own exclude patterns).
    pub excludes: Vec<String>,
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The contents of this file.
    File(PathBuf),
    /// The value of this environment variable of the worker process.
    Env(String),
    /// A value already in memory (a farm task's secret, fetched from the build's client).
    Value(SecretBytes),
}

impl SecretSource {
    /// The value: `None` when the file or variable does not exist.
    pub fn read(&self) -> std::io::Result<Option<Vec<u8>>> {
        match self {
            SecretSource::File(path) => match std::fs::read(path) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", path.display()),
                )),
            },
            SecretSource::Env(name) => Ok(std::env::var_os(name).map(|v| {
                use std::os::unix::ffi::OsStringExt;
                v.into_vec()
            })),
            SecretSource::Value(v) => Ok(Some(v.0.clone())),
        }
    }
}

/// A secret's bytes; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// An SSH forwarding source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshSource {
    /// An ssh-agent socket on this machine, bind-mounted into the step.
    AgentSocket(PathBuf),
}

/// Media types and compression of the images a solve writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    pub media_types: MediaTypes,
    /// Layer compression (gzip by default).
    pub compression: CompressionOptions,
}

/// The images of a solve, one per graph output, in output order.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveResult {
    pub images: Vec<SolvedImage>,
    /// Cache records selected by [`SolveRequest::cache_export`]; every blob they name is
    /// in the worker's content store.
    pub cache: Vec<slipway_farm::cache::CacheRecord>,
}

/// One output's image; its manifest, config and layers are in the worker's content store.
#[derive(Debug, Clone, PartialEq)]
pub struct SolvedImage {
    pub platform: Platform,
    pub target: String,
    /// The manifest (with its platform set).
    pub manifest: Descriptor,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub image_config: ImageConfig,
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_farm::cache::{CacheCompression, CacheExport, CacheExportTarget, CacheMode};
    use slipway_oci::layer::Compression;

    #[test]
    fn export_is_min_unless_a_cache_to_asks_for_max() {
        assert_eq!(CacheExportOptions::for_exports(&[]).mode, CacheMode::Min);
        assert_eq!(CacheExportOptions::for_exports(&[]).compression, None);
        let mut max = CacheExport::new(CacheExportTarget::Registry {
            reference: "r/app:cache".into(),
        });
        max.mode = CacheMode::Max;
        max.compression = Some(CacheCompression::Zstd);
        max.compression_level = Some(5);
        let min = CacheExport::new(CacheExportTarget::Registry {
            reference: "r/app:c2".into(),
        });
        let o = CacheExportOptions::for_exports(&[min.clone(), max]);
        assert_eq!(o.mode, CacheMode::Max);
        let c = o.compression.unwrap();
        assert_eq!((c.kind, c.level), (Compression::Zstd, Some(5)));
        assert_eq!(CacheExportOptions::for_exports(&[min]).mode, CacheMode::Min);
        // Inline records are the image's own layers: an inline max does not force max.
        let mut inline = CacheExport::new(CacheExportTarget::Inline);
        inline.mode = CacheMode::Max;
        assert_eq!(
            CacheExportOptions::for_exports(&[inline]).mode,
            CacheMode::Min
        );
    }
}
