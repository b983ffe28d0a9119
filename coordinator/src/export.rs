//! Writing a build's file outputs (`-o type=oci|docker|local|tar`) from a content store
//! holding its result.

use crate::error::{io, BuildError};
use crate::output::Dest;
use crate::plan::FileExport;
use oci_spec::image::Descriptor;
use slipway_graph::Platform;
use slipway_oci::export::{
    DockerArchive, ExportError, ExportReport, ExportSource, Exporter, LocalDir, OciLayoutTar,
    RootfsTar,
};
use slipway_oci::layer::ApplyOptions;
use slipway_oci::ContentStore;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The subdirectory buildx uses for one platform of a multi-platform local export
/// (`linux_amd64`, `linux_arm_v7`).
pub fn platform_dir(p: &Platform) -> String {
    p.to_string().replace('/', "_")
}

/// Writes one file export. Blocking: run it off the async runtime.
pub fn export_file(
    store: &ContentStore,
    root: &Descriptor,
    platforms: &[Platform],
    export: &FileExport,
    source_date_epoch: Option<i64>,
    scratch: &Path,
) -> Result<(), BuildError> {
    let source = |name: Option<String>| ExportSource {
        store,
        root: root.clone(),
        name,
    };
    match export {
        FileExport::Oci { dest, name } => with_dest(dest, scratch, |path| {
            OciLayoutTar {
                path: path.to_path_buf(),
            }
            .export(&source(name.clone()))
        }),
        FileExport::Docker { dest, name } => with_dest(dest, scratch, |path| {
            DockerArchive {
                path: path.to_path_buf(),
                platform: None,
            }
            .export(&source(name.clone()))
        }),
        FileExport::Local { dest, per_platform } => {
            let targets: Vec<(PathBuf, Option<Platform>)> = if *per_platform {
                platforms
                    .iter()
                    .map(|p| (dest.join(platform_dir(p)), Some(p.clone())))
                    .collect()
            } else {
                vec![(dest.clone(), None)]
            };
            for (path, platform) in targets {
                let exporter = LocalDir {
                    path: path.clone(),
                    platform,
                    apply: ApplyOptions::default(),
                };
                exporter
                    .export(&source(None))
                    .map_err(|source| BuildError::Export {
                        dest: path.display().to_string(),
                        source: Box::new(source),
                    })?;
            }
            Ok(())
        }
        FileExport::Tar { dest, per_platform } => with_dest(dest, scratch, |path| {
            if !*per_platform {
                return RootfsTar {
                    path: path.to_path_buf(),
                    platform: None,
                    apply: ApplyOptions::default(),
                    source_date_epoch,
                }
                .export(&source(None));
            }
            let file = std::fs::File::create(path).map_err(io_export(path, "create"))?;
            let mut out = tar::Builder::new(std::io::BufWriter::new(file));
            let mut items = 0;
            for p in platforms {
                let part = scratch.join(format!("{}.tar", platform_dir(p)));
                let report = RootfsTar {
                    path: part.clone(),
                    platform: Some(p.clone()),
                    apply: ApplyOptions::default(),
                    source_date_epoch,
                }
                .export(&source(None))?;
                items += report.items;
                let input = std::fs::File::open(&part).map_err(io_export(&part, "open"))?;
                crate::tar_merge::append_prefixed(
                    &mut out,
                    std::io::BufReader::new(input),
                    &platform_dir(p),
                )
                .map_err(io_export(path, "write"))?;
                let _ = std::fs::remove_file(&part);
            }
            let mut w = out.into_inner().map_err(io_export(path, "finish"))?;
            w.flush().map_err(io_export(path, "flush"))?;
            Ok(ExportReport {
                path: path.to_path_buf(),
                items,
            })
        }),
    }
}

fn io_export(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> ExportError {
    let path = path.to_path_buf();
    move |source| ExportError::Io { path, op, source }
}

/// Runs `write` on the destination path; for stdout, on a scratch file then copied out.
fn with_dest(
    dest: &Dest,
    scratch: &Path,
    write: impl FnOnce(
        &Path,
    )
        -> Result<slipway_oci::export::ExportReport, slipway_oci::export::ExportError>,
) -> Result<(), BuildError> {
    let (path, label) = match dest {
        Dest::Path(p) => (p.clone(), p.display().to_string()),
        Dest::Stdout => (scratch.join("stdout.tar"), "stdout".to_string()),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    write(&path).map_err(|source| BuildError::Export {
        dest: label,
        source: Box::new(source),
    })?;
    if *dest == Dest::Stdout {
        let mut f = std::fs::File::open(&path).map_err(io("opening", &path))?;
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut f, &mut out).map_err(io("writing", Path::new("<stdout>")))?;
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_dirs_as_buildx() {
        assert_eq!(platform_dir(&Platform::linux("amd64", "")), "linux_amd64");
        assert_eq!(platform_dir(&Platform::linux("arm", "v7")), "linux_arm_v7");
    }
}
