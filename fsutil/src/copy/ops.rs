//! The non-copy file actions: mkdir, mkfile and rm (BuildKit's file backend semantics),
//! every path resolved inside the destination root.

use super::meta::{mkdir_all, set_mode, set_owner, set_times, Owner};
use super::ApplyOptions;
use crate::error::{FsError, IoContext};
use crate::glob::{match_component, split_wildcards};
use crate::pathclean::clean_abs;
use crate::root::{resolve_rel, FollowFinal};
use slipway_graph::{MkdirAction, MkfileAction, RmAction};
use std::io::Write;
use std::path::Path;

/// `mkdir` (with `-p` when `make_parents`); an existing directory is not an error. Like
/// BuildKit (`os.FileMode(mode)&0777`), special bits are not applied.
pub(crate) fn mkdir(
    root: &Path,
    a: &MkdirAction,
    owner: Option<Owner>,
    opts: &ApplyOptions,
) -> Result<(), FsError> {
    let mode = a.mode & 0o777;
    let rel = resolve_rel(root, &a.path, FollowFinal::Follow)?;
    if a.make_parents {
        return mkdir_all(root, &rel, mode, owner, a.timestamp, opts);
    }
    let p = root.join(&rel);
    match std::fs::create_dir(&p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(FsError::io("mkdir", p, e)),
    }
    set_mode(&p, mode)?;
    if let Some(o) = owner {
        set_owner(&p, o, opts)?;
    }
    if let Some(t) = a.timestamp {
        set_times(&p, (t, 0), (t, 0))?;
    }
    Ok(())
}

/// Writes a file with `data` (truncating an existing one), then sets mode, owner, time.
pub(crate) fn mkfile(
    root: &Path,
    a: &MkfileAction,
    owner: Option<Owner>,
    opts: &ApplyOptions,
) -> Result<(), FsError> {
    let rel = resolve_rel(root, &a.path, FollowFinal::Follow)?;
    if rel.is_empty() {
        return Err(FsError::InvalidPath {
            path: a.path.clone(),
            reason: "mkfile needs a file path, not the root",
        });
    }
    let p = root.join(&rel);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .ctx("creating file", &p)?;
    f.write_all(a.data.as_bytes()).ctx("writing file", &p)?;
    drop(f);
    set_mode(&p, a.mode & 0o7777)?;
    if let Some(o) = owner {
        set_owner(&p, o, opts)?;
    }
    if let Some(t) = a.timestamp {
        set_times(&p, (t, 0), (t, 0))?;
    }
    Ok(())
}

/// `rm -rf` of one path (its parent resolved inside the root, the last component never
/// followed); with `allow_wildcard`, of every match (none is not an error).
pub(crate) fn rm(root: &Path, a: &RmAction) -> Result<(), FsError> {
    if a.allow_wildcard {
        for m in resolve_wildcards(root, &a.path)? {
            rm_path(root, &m, true)?;
        }
        return Ok(());
    }
    rm_path(root, &a.path, a.allow_not_found)
}

fn rm_path(root: &Path, path: &str, allow_not_found: bool) -> Result<(), FsError> {
    let abs = clean_abs(path);
    let Some((dir, base)) = abs.rsplit_once('/').filter(|(_, b)| !b.is_empty()) else {
        return Err(FsError::InvalidPath {
            path: path.to_string(),
            reason: "cannot remove the root",
        });
    };
    let dir_rel = resolve_rel(root, dir, FollowFinal::Follow)?;
    let p = root.join(&dir_rel).join(base);
    match std::fs::symlink_metadata(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if allow_not_found {
                Ok(())
            } else {
                Err(FsError::SourceNotFound {
                    path: path.to_string(),
                })
            }
        }
        Err(e) => Err(FsError::io("stat", p, e)),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p).ctx("removing directory", &p),
        Ok(_) => std::fs::remove_file(&p).ctx("removing file", &p),
    }
}

/// Expands wildcards in `pattern` against the tree under `root` (paths resolved inside it).
/// Returns absolute (root-relative, `/`-prefixed) paths in sorted order; directories on the
/// way are followed, matches are returned unresolved.
pub(crate) fn resolve_wildcards(root: &Path, pattern: &str) -> Result<Vec<String>, FsError> {
    let abs = clean_abs(pattern);
    let (fixed, rest) = split_wildcards(&abs);
    if rest.is_empty() {
        return Ok(vec![abs]);
    }
    let mut current = vec![fixed];
    for comp in rest.split('/') {
        let mut next = Vec::new();
        for dir in &current {
            let dir_rel = resolve_rel(root, dir, FollowFinal::Follow)?;
            let abs_dir = root.join(&dir_rel);
            let Ok(rd) = std::fs::read_dir(&abs_dir) else {
                continue;
            };
            let mut names: Vec<String> = Vec::new();
            for ent in rd {
                let ent = ent.ctx("reading directory", &abs_dir)?;
                if let Ok(n) = ent.file_name().into_string() {
                    names.push(n);
                }
            }
            names.sort();
            for n in names {
                if match_component(comp, &n)? {
                    let joined = if dir.ends_with('/') {
                        format!("{dir}{n}")
                    } else {
                        format!("{dir}/{n}")
                    };
                    next.push(joined);
                }
            }
        }
        current = next;
    }
    Ok(current)
}
