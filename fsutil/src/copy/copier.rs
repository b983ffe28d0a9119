//! Recursive copy of one source path onto a target (fsutil's copier): include/exclude
//! patterns with parent results, lazily created parents for included paths, hardlinks
//! kept within one copy, symlinks copied as symlinks, metadata per [`MetaSpec`].

use super::meta::{copy_file_info, copy_times, MetaSpec};
use crate::error::{FsError, IoContext};
use crate::pattern::{MatchInfo, PatternMatcher};
use nix::sys::stat::{mknod, Mode, SFlag};
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A source directory that was not itself included; created once something below it is.
struct ParentDir {
    src: PathBuf,
    dst: PathBuf,
    meta: Metadata,
    created: bool,
}

pub(crate) struct Copier<'a> {
    pub meta: MetaSpec<'a>,
    pub includes: Option<PatternMatcher>,
    pub excludes: Option<PatternMatcher>,
    pub replace_existing: bool,
    /// First target of each multiply-linked source inode.
    inodes: HashMap<(u64, u64), PathBuf>,
    parents: Vec<ParentDir>,
}

impl<'a> Copier<'a> {
    pub fn new(
        meta: MetaSpec<'a>,
        includes: Option<PatternMatcher>,
        excludes: Option<PatternMatcher>,
        replace_existing: bool,
    ) -> Copier<'a> {
        Copier {
            meta,
            includes: includes.filter(|m| !m.is_empty()),
            excludes: excludes.filter(|m| !m.is_empty()),
            replace_existing,
            inodes: HashMap::new(),
            parents: Vec::new(),
        }
    }

    /// Copies `src` (whose path below the copied root is `comps`, `""` for the root)
    /// to `target`.
    pub fn copy(
        &mut self,
        src: &Path,
        comps: &str,
        target: &Path,
        overwrite_meta: bool,
        parent_inc: &MatchInfo,
        parent_exc: &MatchInfo,
    ) -> Result<(), FsError> {
        let meta = std::fs::symlink_metadata(src).ctx("stat source", src)?;
        let target_existed = std::fs::symlink_metadata(target).is_ok();
        let mut include = true;
        let mut inc_info = MatchInfo::default();
        let mut exc_info = MatchInfo::default();
        let mut excluded = false;
        if !comps.is_empty() {
            if let Some(m) = &self.includes {
                let (ok, info) = m.matches_using_parent_results(comps, parent_inc);
                include = ok;
                inc_info = info;
            }
            if let Some(m) = &self.excludes {
                let (ex, info) = m.matches_using_parent_results(comps, parent_exc);
                excluded = ex;
                exc_info = info;
                if ex {
                    include = false;
                }
            }
        }
        let is_dir = meta.is_dir();
        if include {
            if self.replace_existing {
                remove_if_type_differs(target, is_dir)?;
            }
            self.create_parents()?;
        }
        if !is_dir {
            if !include {
                return Ok(());
            }
            ensure_empty_file_target(target)?;
        }
        let ft = meta.file_type();
        let mut copy_info = include;
        let mut restore_times = false;
        if is_dir {
            if !include && !self.may_match_below(comps, excluded) {
                return Ok(());
            }
            let created = self.copy_directory(
                src,
                comps,
                target,
                &meta,
                overwrite_meta,
                include,
                &inc_info,
                &exc_info,
            )?;
            if !overwrite_meta {
                // A directory that was there keeps its metadata but gets the source's times
                // (fsutil's restoreFileTimestamp).
                copy_info = include && created;
                restore_times = !created;
            }
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            match self.inodes.get(&key) {
                Some(first) if meta.nlink() > 1 => {
                    std::fs::hard_link(first, target).ctx("creating hard link", target)?;
                }
                _ => {
                    copy_contents(src, target)?;
                    if meta.nlink() > 1 {
                        self.inodes.insert(key, target.to_path_buf());
                    }
                }
            }
        } else if ft.is_symlink() {
            let link = std::fs::read_link(src).ctx("reading symlink", src)?;
            std::os::unix::fs::symlink(&link, target).ctx("creating symlink", target)?;
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() || ft.is_socket() {
            let kind = if ft.is_fifo() {
                SFlag::S_IFIFO
            } else if ft.is_char_device() {
                SFlag::S_IFCHR
            } else if ft.is_block_device() {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFSOCK
            };
            mknod(
                target,
                kind,
                Mode::from_bits_truncate(meta.mode() & 0o7777),
                meta.rdev(),
            )
            .ctx("creating device node", target)?;
        } else {
            return Err(FsError::UnsupportedFileType {
                path: src.to_path_buf(),
            });
        }
        if copy_info {
            copy_file_info(&meta, src, target, &self.meta)?;
        } else if restore_times && target_existed {
            copy_times(&meta, target, &self.meta)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_directory(
        &mut self,
        src: &Path,
        comps: &str,
        dst: &Path,
        meta: &Metadata,
        overwrite_meta: bool,
        include: bool,
        inc_info: &MatchInfo,
        exc_info: &MatchInfo,
    ) -> Result<bool, FsError> {
        let mut created = false;
        let depth = self.parents.len();
        if include {
            match std::fs::symlink_metadata(dst) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(dst).ctx("mkdir", dst)?;
                    created = true;
                }
                Err(e) => return Err(FsError::io("stat", dst, e)),
                Ok(m) if !m.is_dir() => {
                    return Err(FsError::CopyDirOntoFile {
                        src: src.display().to_string(),
                        dest: dst.to_path_buf(),
                    })
                }
                Ok(_) if overwrite_meta => {
                    super::meta::set_mode(dst, meta.mode())?;
                }
                Ok(_) => {}
            }
        } else {
            self.parents.push(ParentDir {
                src: src.to_path_buf(),
                dst: dst.to_path_buf(),
                meta: meta.clone(),
                created: false,
            });
        }
        let mut names = Vec::new();
        for ent in std::fs::read_dir(src).ctx("reading directory", src)? {
            names.push(ent.ctx("reading directory", src)?.file_name());
        }
        names.sort();
        for name in names {
            let child_comps = match (comps.is_empty(), name.to_str()) {
                (_, None) => {
                    return Err(FsError::InvalidPath {
                        path: src.join(&name).display().to_string(),
                        reason: "file name is not UTF-8",
                    })
                }
                (true, Some(n)) => n.to_string(),
                (false, Some(n)) => format!("{comps}/{n}"),
            };
            self.copy(
                &src.join(&name),
                &child_comps,
                &dst.join(&name),
                true,
                inc_info,
                exc_info,
            )?;
        }
        if !include {
            // Set the metadata of a lazily created parent after its children are in.
            if let Some(p) = self.parents.get(depth) {
                if p.created {
                    copy_file_info(&p.meta, &p.src, &p.dst, &self.meta)?;
                }
            }
            self.parents.truncate(depth);
        }
        Ok(created)
    }

    fn create_parents(&mut self) -> Result<(), FsError> {
        for p in self.parents.iter_mut().filter(|p| !p.created) {
            match std::fs::symlink_metadata(&p.dst) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(FsError::CopyDirOntoFile {
                        src: p.src.display().to_string(),
                        dest: p.dst.clone(),
                    })
                }
                Err(_) => {
                    std::fs::create_dir(&p.dst).ctx("mkdir", &p.dst)?;
                    p.created = true;
                }
            }
        }
        Ok(())
    }

    /// Whether a directory that is not included could still contain included paths.
    fn may_match_below(&self, comps: &str, excluded: bool) -> bool {
        let prefix = format!("{comps}/");
        if excluded {
            let Some(m) = &self.excludes else { return true };
            let reinclude = m
                .patterns()
                .iter()
                .filter(|p| p.is_exclusion())
                .any(|p| !p.is_literal() || p.as_str().starts_with(&prefix));
            if !reinclude {
                return false;
            }
        }
        match &self.includes {
            None => true,
            Some(m) => m
                .patterns()
                .iter()
                .any(|p| p.is_exclusion() || !p.is_literal() || p.as_str().starts_with(&prefix)),
        }
    }
}

fn copy_contents(src: &Path, target: &Path) -> Result<(), FsError> {
    let mut input = std::fs::File::open(src).ctx("opening source", src)?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .ctx("creating file", target)?;
    std::io::copy(&mut input, &mut out).ctx("copying file", target)?;
    Ok(())
}

/// Removes a file or symlink at `target` so a file can be created there; a directory there
/// is an error.
pub(crate) fn ensure_empty_file_target(target: &Path) -> Result<(), FsError> {
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FsError::io("stat", target, e)),
        Ok(m) if m.is_dir() => Err(FsError::ReplaceDirWithFile {
            dest: target.to_path_buf(),
        }),
        Ok(_) => std::fs::remove_file(target).ctx("removing existing file", target),
    }
}

fn remove_if_type_differs(target: &Path, src_is_dir: bool) -> Result<(), FsError> {
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() != src_is_dir => {
            if m.is_dir() {
                std::fs::remove_dir_all(target).ctx("removing existing directory", target)
            } else {
                std::fs::remove_file(target).ctx("removing existing file", target)
            }
        }
        _ => Ok(()),
    }
}
