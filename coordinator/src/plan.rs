//! The export plan of a build, decided before any work starts: which repositories to push
//! to (with which tags), which files to write, and which media types the images use.

use crate::output::{Dest, OutputKind, OutputSpec};
use slipway_oci::registry::parse_reference;
use slipway_oci::MediaTypes;
use std::path::PathBuf;

/// One repository to push to: the image (or index) by digest, then these tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// `registry/repository`, normalised (`docker.io/library/alpine`).
    pub repository: String,
    pub registry: String,
    pub tags: Vec<String>,
    /// Reached over plain HTTP (`registry.insecure=true`).
    pub insecure: bool,
}

/// A file export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileExport {
    Oci {
        dest: Dest,
        name: Option<String>,
    },
    Docker {
        dest: Dest,
        name: Option<String>,
    },
    /// Root filesystems; one subdirectory per platform when `per_platform`.
    Local {
        dest: PathBuf,
        per_platform: bool,
    },
    Tar {
        dest: Dest,
        per_platform: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportPlan {
    pub pushes: Vec<PushTarget>,
    pub files: Vec<FileExport>,
    pub media_types: MediaTypes,
    /// Every image name of the build (`image.name` in the metadata).
    pub names: Vec<String>,
    /// Names of `type=image` outputs: recorded in the worker's store, pointing at the result.
    pub store_names: Vec<String>,
}

/// Why outputs cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("--output type=docker: a docker archive holds one platform, but {count} platforms are built; use type=oci for a multi-platform archive")]
    DockerMultiPlatform { count: usize },
    #[error(
        "--push / --output push=true: no image name to push to; name it with -t/--tag or name="
    )]
    PushWithoutName,
    #[error("--tag {name:?}: {message}")]
    BadName { name: String, message: String },
    #[error("--tag {name:?}: a digest reference cannot be pushed to; give a tag")]
    DigestName { name: String },
    #[error("--output: only one output to stdout (dest=-) is possible")]
    TwoStdout,
}

/// Decides the export plan. `tags` are the `-t` names (used by image, oci and docker
/// outputs that name none); `platforms` is the number of platforms built.
pub fn plan_exports(
    outputs: &[OutputSpec],
    tags: &[String],
    platforms: usize,
) -> Result<ExportPlan, PlanError> {
    let mut plan = ExportPlan::default();
    let names_or_tags = |names: &Vec<String>| {
        if names.is_empty() {
            tags.to_vec()
        } else {
            names.clone()
        }
    };
    let multi = platforms > 1;
    let mut stdout = 0;
    for out in outputs {
        if let Some(mt) = out.media_types {
            plan.media_types = mt;
        }
        match &out.kind {
            OutputKind::Image { names, push } => {
                let names = names_or_tags(names);
                if *push && names.is_empty() {
                    return Err(PlanError::PushWithoutName);
                }
                for name in &names {
                    push_name(&mut plan, name, *push, out.insecure)?;
                }
            }
            OutputKind::Oci { dest, names } => {
                stdout += usize::from(*dest == Dest::Stdout);
                let name = names_or_tags(names).into_iter().next();
                add_name(&mut plan, name.as_deref());
                plan.files.push(FileExport::Oci {
                    dest: dest.clone(),
                    name,
                });
            }
            OutputKind::Docker { dest, names } => {
                if multi {
                    return Err(PlanError::DockerMultiPlatform { count: platforms });
                }
                stdout += usize::from(*dest == Dest::Stdout);
                let name = names_or_tags(names).into_iter().next();
                add_name(&mut plan, name.as_deref());
                plan.files.push(FileExport::Docker {
                    dest: dest.clone(),
                    name,
                });
            }
            OutputKind::Local { dest } => plan.files.push(FileExport::Local {
                dest: dest.clone(),
                per_platform: multi,
            }),
            OutputKind::Tar { dest } => {
                stdout += usize::from(*dest == Dest::Stdout);
                plan.files.push(FileExport::Tar {
                    dest: dest.clone(),
                    per_platform: multi,
                })
            }
        }
    }
    if stdout > 1 {
        return Err(PlanError::TwoStdout);
    }
    Ok(plan)
}

fn add_name(plan: &mut ExportPlan, name: Option<&str>) {
    if let Some(n) = name {
        if !plan.names.iter().any(|x| x == n) {
            plan.names.push(n.to_string());
        }
    }
}

fn push_name(
    plan: &mut ExportPlan,
    name: &str,
    push: bool,
    insecure: bool,
) -> Result<(), PlanError> {
    let r = parse_reference(name).map_err(|e| PlanError::BadName {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    add_name(plan, Some(name));
    if !plan.store_names.iter().any(|n| n == name) {
        plan.store_names.push(name.to_string());
    }
    if !push {
        return Ok(());
    }
    if r.digest().is_some() && r.tag().is_none() {
        return Err(PlanError::DigestName {
            name: name.to_string(),
        });
    }
    let registry = r.registry().to_string();
    let repository = format!("{registry}/{}", r.repository());
    let tag = r.tag().unwrap_or("latest").to_string();
    match plan.pushes.iter_mut().find(|p| p.repository == repository) {
        Some(p) => {
            if !p.tags.contains(&tag) {
                p.tags.push(tag);
            }
            p.insecure |= insecure;
        }
        None => plan.pushes.push(PushTarget {
            repository,
            registry,
            tags: vec![tag],
            insecure,
        }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::parse_output;

    fn outs(list: &[&str]) -> Vec<OutputSpec> {
        list.iter().map(|o| parse_output(o).unwrap()).collect()
    }

    #[test]
    fn tags_fill_unnamed_outputs_and_group_by_repository() {
        let tags = vec![
            "127.0.0.1:5000/app:1".to_string(),
            "127.0.0.1:5000/app:2".into(),
            "127.0.0.1:5000/other".into(),
        ];
        let plan = plan_exports(&outs(&["type=image,push=true"]), &tags, 3).unwrap();
        assert_eq!(plan.names, tags);
        assert_eq!(plan.pushes.len(), 2);
        assert_eq!(plan.pushes[0].repository, "127.0.0.1:5000/app");
        assert_eq!(plan.pushes[0].tags, vec!["1", "2"]);
        assert_eq!(plan.pushes[1].tags, vec!["latest"]);
        assert_eq!(plan.pushes[1].registry, "127.0.0.1:5000");
    }

    #[test]
    fn image_without_push_pushes_nothing() {
        let plan = plan_exports(&outs(&["type=image,name=r/a"]), &[], 1).unwrap();
        assert!(plan.pushes.is_empty());
        assert_eq!(plan.names, vec!["r/a"]);
        assert_eq!(plan.store_names, vec!["r/a"]);
    }

    #[test]
    fn multi_platform_files() {
        let plan = plan_exports(
            &outs(&[
                "type=local,dest=o",
                "type=tar,dest=t.tar",
                "type=oci,dest=x.tar,oci-mediatypes=false",
            ]),
            &[],
            2,
        )
        .unwrap();
        assert_eq!(
            plan.files[0],
            FileExport::Local {
                dest: "o".into(),
                per_platform: true
            }
        );
        assert_eq!(
            plan.files[1],
            FileExport::Tar {
                dest: Dest::Path("t.tar".into()),
                per_platform: true
            }
        );
        assert_eq!(plan.media_types, MediaTypes::Docker);
    }

    #[test]
    fn refusals() {
        let err = plan_exports(&outs(&["type=docker,dest=a.tar"]), &[], 2).unwrap_err();
        assert!(err.to_string().contains("--output type=docker"), "{err}");
        assert_eq!(
            plan_exports(&outs(&["type=registry"]), &[], 1),
            Err(PlanError::PushWithoutName)
        );
        assert!(matches!(
            plan_exports(&outs(&["type=registry"]), &["UP/Case".into()], 1),
            Err(PlanError::BadName { .. })
        ));
        assert_eq!(
            plan_exports(&outs(&["-", "type=oci,dest=-"]), &[], 1),
            Err(PlanError::TwoStdout)
        );
        let d = format!("r/a@sha256:{}", "a".repeat(64));
        assert!(matches!(
            plan_exports(&outs(&["type=registry"]), &[d], 1),
            Err(PlanError::DigestName { .. })
        ));
    }
}
