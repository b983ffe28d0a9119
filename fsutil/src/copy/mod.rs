//! Applying graph [`FileOp`]s onto a destination root directory with BuildKit's
//! COPY/ADD/mkdir/mkfile/rm semantics. Every destination path is resolved inside the
//! root as in a chroot, so symlinks in the destination tree can never lead outside it.

mod chmod;
mod copier;
mod meta;
mod ops;
mod unpack;
mod user;

pub use chmod::ModeChange;
pub use meta::Owner;
pub use user::resolve_chown;

use crate::error::FsError;
use crate::pathclean::{clean, clean_abs};
use crate::pattern::{MatchInfo, PatternMatcher};
use crate::root::{resolve_in_root, resolve_rel, FollowFinal};
use chmod::created_dir_mode;
use copier::Copier;
use meta::{mkdir_all, MetaSpec};
use slipway_graph::{CopyAction, FileAction, FileOp};
use std::path::Path;

/// What to do with extended attributes of copied files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XattrPolicy {
    /// Copy them; failures to set one are ignored (BuildKit logs and goes on).
    #[default]
    BestEffort,
    /// Copy them; any failure is an error.
    Strict,
    /// Do not copy them.
    Skip,
}

/// Whether ownership is applied (needs root) or left as the current user's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OwnershipPolicy {
    /// Preserve source owners and apply `--chown` (the worker runs as root).
    #[default]
    Apply,
    /// Never chown (unprivileged use).
    Skip,
}

/// Options for [`apply_file_op`].
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub xattrs: XattrPolicy,
    pub ownership: OwnershipPolicy,
}

/// Applies every action of `op`, in order, onto `dest_root` (which already holds the
/// op's base, or is empty). `inputs[i]` is the root directory of input `i`, used by copy
/// actions' `src_input`.
pub fn apply_file_op(
    op: &FileOp,
    dest_root: &Path,
    inputs: &[&Path],
    opts: &ApplyOptions,
) -> Result<(), FsError> {
    for action in &op.actions {
        match action {
            FileAction::Copy(c) => copy_action(c, dest_root, inputs, opts)?,
            FileAction::Mkdir(a) => {
                let owner = a
                    .chown
                    .as_ref()
                    .map(|c| resolve_chown(c, dest_root))
                    .transpose()?;
                ops::mkdir(dest_root, a, owner, opts)?;
            }
            FileAction::Mkfile(a) => {
                let owner = a
                    .chown
                    .as_ref()
                    .map(|c| resolve_chown(c, dest_root))
                    .transpose()?;
                ops::mkfile(dest_root, a, owner, opts)?;
            }
            FileAction::Rm(a) => ops::rm(dest_root, a)?,
        }
    }
    Ok(())
}

/// BuildKit's `cleanPath`: absolute and clean, keeping a trailing `/` or `/.`.
fn clean_path(s: &str) -> String {
    let mut out = clean_abs(s);
    if s.ends_with("/.") {
        if out != "/" {
            out.push('/');
        }
        out.push('.');
    } else if s.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

fn says_directory(dest: &str) -> bool {
    dest.ends_with('/') || dest.ends_with("/.")
}

fn copy_action(
    c: &CopyAction,
    dest_root: &Path,
    inputs: &[&Path],
    opts: &ApplyOptions,
) -> Result<(), FsError> {
    let src_root = match c.src_input {
        None => None,
        Some(i) => Some(*inputs.get(i as usize).ok_or(FsError::InputOutOfRange {
            index: i,
            count: inputs.len(),
        })?),
    };
    let owner = c
        .chown
        .as_ref()
        .map(|ch| resolve_chown(ch, dest_root))
        .transpose()?;
    let mode = c.chmod.as_ref().map(ModeChange::from_graph).transpose()?;
    let src_path = clean_path(&c.src);
    let dest_path = clean_path(&c.dest);

    for req in &c.required_paths {
        let found = src_root.is_some_and(|r| {
            resolve_in_root(r, req, FollowFinal::NoFollow)
                .is_ok_and(|p| std::fs::symlink_metadata(p).is_ok())
        });
        if !found {
            return Err(FsError::RequiredPathMissing { path: req.clone() });
        }
    }
    if !c.create_dest_path {
        let resolved = resolve_rel(dest_root, &clean_abs(&c.dest), FollowFinal::Follow)?;
        let parent = resolved.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        if !resolved.is_empty() && !dest_root.join(parent).is_dir() {
            return Err(FsError::DestParentMissing {
                dest: c.dest.clone(),
            });
        }
    }

    let matches = if c.allow_wildcard {
        let found = match src_root {
            Some(r) => ops::resolve_wildcards(r, &src_path)?,
            None => Vec::new(),
        };
        if found.is_empty() {
            if c.allow_empty_wildcard {
                return Ok(());
            }
            return Err(FsError::NoSourceMatched {
                pattern: c.src.clone(),
            });
        }
        found
    } else {
        vec![src_path]
    };
    if matches.len() > 1 && !says_directory(&dest_path) {
        return Err(FsError::MultipleSourcesNeedDirDest {
            pattern: c.src.clone(),
            dest: c.dest.clone(),
            count: matches.len(),
        });
    }
    let Some(src_root) = src_root else {
        return Err(FsError::SourceNotFound {
            path: c.src.clone(),
        });
    };

    let includes = (!c.include_patterns.is_empty())
        .then(|| PatternMatcher::new(&c.include_patterns))
        .transpose()?;
    let excludes = (!c.exclude_patterns.is_empty())
        .then(|| PatternMatcher::new(&c.exclude_patterns))
        .transpose()?;
    let spec = MetaSpec {
        owner,
        mode,
        timestamp: c.timestamp,
        opts,
    };
    let mut copier = Copier::new(
        spec,
        includes,
        excludes,
        c.always_replace_existing_dest_paths,
    );
    for s in &matches {
        if c.attempt_unpack {
            let archive = resolve_in_root(src_root, s, FollowFinal::Follow)?;
            if unpack::is_archive(&archive) {
                let dest_rel = resolve_rel(dest_root, &clean(&dest_path), FollowFinal::Follow)?;
                // BuildKit's unpack: the destination is made 0755 and --chmod is not applied.
                mkdir_all(dest_root, &dest_rel, 0o755, owner, c.timestamp, opts)?;
                unpack::extract(&archive, &dest_root.join(&dest_rel), c.timestamp, opts)?;
                continue;
            }
        }
        copy_one(src_root, s, dest_root, &dest_path, c, &mut copier)?;
    }
    Ok(())
}

/// fsutil's `Copy` for one resolved source path.
fn copy_one(
    src_root: &Path,
    src: &str,
    dest_root: &Path,
    dest_path: &str,
    c: &CopyAction,
    copier: &mut Copier<'_>,
) -> Result<(), FsError> {
    let owner = copier.meta.owner;
    let ts = copier.meta.timestamp;
    let opts = copier.meta.opts;
    let (dir_part, file_part) = dest_path.rsplit_once('/').unwrap_or(("", dest_path));
    let ensure = if !file_part.is_empty() && file_part != "." {
        dir_part
    } else {
        dest_path
    };
    // fsutil's MkdirAll for the destination: an octal --chmod's permission bits, else 0755.
    let dir_mode = created_dir_mode(copier.meta.mode.as_ref());
    let ensure_rel = resolve_rel(dest_root, ensure, FollowFinal::Follow)?;
    mkdir_all(dest_root, &ensure_rel, dir_mode, owner, ts, opts)?;

    let mut dst_rel = resolve_rel(dest_root, &clean(dest_path), FollowFinal::Follow)?;
    let follow = if c.follow_symlinks {
        FollowFinal::Follow
    } else {
        FollowFinal::NoFollow
    };
    let src_followed = resolve_in_root(src_root, src, follow)?;
    let src_meta =
        std::fs::symlink_metadata(&src_followed).map_err(|_| FsError::SourceNotFound {
            path: src.to_string(),
        })?;
    let dest_meta = std::fs::metadata(join_root(dest_root, &dst_rel)).ok();
    let src_is_dir = src_meta.is_dir();
    let dest_is_dir = dest_meta.as_ref().is_some_and(|m| m.is_dir());
    if (!c.dir_contents_only && src_is_dir && dest_meta.is_some()) || (!src_is_dir && dest_is_dir) {
        let base = clean(src).rsplit('/').next().unwrap_or("").to_string();
        if !base.is_empty() {
            dst_rel = if dst_rel.is_empty() {
                base
            } else {
                format!("{dst_rel}/{base}")
            };
        }
    }
    let target_rel = if c.dir_contents_only && src_is_dir && dest_meta.is_none() {
        dst_rel.clone()
    } else {
        dst_rel
            .rsplit_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default()
    };
    mkdir_all(dest_root, &target_rel, dir_mode, owner, ts, opts)?;
    let target = join_root(dest_root, &dst_rel);
    copier.copy(
        &src_followed,
        "",
        &target,
        false,
        &MatchInfo::default(),
        &MatchInfo::default(),
    )
}

fn join_root(root: &Path, rel: &str) -> std::path::PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_keeps_dir_markers() {
        assert_eq!(clean_path("app/"), "/app/");
        assert_eq!(clean_path("/app/."), "/app/.");
        assert_eq!(clean_path("/."), "/.");
        assert_eq!(clean_path("a//b/../c"), "/a/c");
        assert_eq!(clean_path("/"), "/");
        assert!(says_directory("/app/"));
        assert!(!says_directory("/app"));
    }
}
