//! Checksums of selected context paths for cache keys (the role of BuildKit's
//! `contenthash`): over kind, mode, uid/gid, size, link target, xattrs and content —
//! never mtime. A directory's checksum covers its own header and its children (names and
//! checksums, in listing order), recursively. The context root's own metadata is not part
//! of it (only its contents are ever copied).

use super::hash::finish;
use super::{ContextEntry, EntryKind, Listing};
use crate::error::FsError;
use crate::glob::{match_component, split_wildcards};
use crate::pathclean::clean_abs;
use sha2::{Digest as _, Sha256};
use slipway_graph::Digest;
use std::collections::HashMap;

/// How selectors are resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksumOptions {
    /// Follow a symlink at a selected path itself (intermediate symlinks are always
    /// followed, inside the context).
    pub follow_links: bool,
    /// A wildcard selector that matches nothing contributes nothing instead of failing.
    pub allow_empty_wildcard: bool,
}

const MAX_SYMLINKS: usize = 255;

struct Index<'a> {
    by_path: HashMap<&'a str, &'a ContextEntry>,
    children: HashMap<&'a str, Vec<&'a ContextEntry>>,
    memo: HashMap<String, [u8; 32]>,
}

/// The checksum of the paths chosen by `selectors` (context-relative, `*`/`?`/`[..]`
/// wildcards allowed; `/` or `.` is the whole context).
pub fn checksum(
    listing: &Listing,
    selectors: &[&str],
    opts: &ChecksumOptions,
) -> Result<Digest, FsError> {
    let mut idx = Index::new(listing);
    let mut total = Sha256::new();
    for sel in selectors {
        total.update(b"selector\0");
        total.update(clean_abs(sel).as_bytes());
        total.update(b"\0");
        for matched in idx.expand(sel, opts)? {
            let target = if opts.follow_links {
                idx.resolve(&matched, true, sel)?
            } else {
                matched.clone()
            };
            let sum = idx.sum(&target, sel)?;
            total.update(matched.as_bytes());
            total.update(b"\0");
            total.update(hex::encode(sum).as_bytes());
            total.update(b"\n");
        }
    }
    finish(total)
}

impl<'a> Index<'a> {
    fn new(listing: &'a Listing) -> Index<'a> {
        let mut by_path = HashMap::new();
        let mut children: HashMap<&str, Vec<&ContextEntry>> = HashMap::new();
        for e in &listing.entries {
            by_path.insert(e.path.as_str(), e);
            let parent = e.path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            children.entry(parent).or_default().push(e);
        }
        Index {
            by_path,
            children,
            memo: HashMap::new(),
        }
    }

    /// The listed paths a selector names (unresolved, relative).
    fn expand(&self, sel: &str, opts: &ChecksumOptions) -> Result<Vec<String>, FsError> {
        let abs = clean_abs(sel);
        let (fixed, rest) = split_wildcards(&abs);
        let fixed_rel = fixed.trim_start_matches('/').to_string();
        if rest.is_empty() {
            if !fixed_rel.is_empty() && self.resolve(&fixed_rel, false, sel).is_err() {
                return Err(FsError::SourceNotFound {
                    path: sel.to_string(),
                });
            }
            return Ok(vec![fixed_rel]);
        }
        let mut current = vec![fixed_rel];
        for comp in rest.split('/') {
            let mut next = Vec::new();
            for dir in &current {
                let resolved = self.resolve(dir, true, sel)?;
                for child in self.children.get(resolved.as_str()).into_iter().flatten() {
                    let name = child.path.rsplit('/').next().unwrap_or("");
                    if match_component(comp, name)? {
                        next.push(join(dir, name));
                    }
                }
            }
            current = next;
        }
        if current.is_empty() && !opts.allow_empty_wildcard {
            return Err(FsError::NoSourceMatched {
                pattern: sel.to_string(),
            });
        }
        Ok(current)
    }

    /// Resolves symlinks inside the listing (the last component only with `follow_last`).
    fn resolve(&self, path: &str, follow_last: bool, sel: &str) -> Result<String, FsError> {
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            let is_last = pending.iter().all(|c| c.is_empty() || c == ".");
            let candidate = join(&resolved.join("/"), &comp);
            let Some(entry) = self.by_path.get(candidate.as_str()) else {
                return Err(FsError::SourceNotFound {
                    path: sel.to_string(),
                });
            };
            if let (EntryKind::Symlink, Some(target)) = (entry.kind, &entry.link_target) {
                if !is_last || follow_last {
                    hops += 1;
                    if hops > MAX_SYMLINKS {
                        return Err(FsError::SymlinkLoop {
                            path: sel.to_string(),
                        });
                    }
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    pending.extend(target.split('/').rev().map(str::to_string));
                    continue;
                }
            }
            resolved.push(comp);
        }
        Ok(resolved.join("/"))
    }

    fn sum(&mut self, path: &str, sel: &str) -> Result<[u8; 32], FsError> {
        if let Some(s) = self.memo.get(path) {
            return Ok(*s);
        }
        let mut h = Sha256::new();
        if path.is_empty() {
            h.update(b"root\0");
        } else {
            let Some(entry) = self.by_path.get(path).copied() else {
                return Err(FsError::SourceNotFound {
                    path: sel.to_string(),
                });
            };
            header(&mut h, entry);
            if let Some(d) = &entry.digest {
                h.update(d.as_str().as_bytes());
            }
            if entry.kind != EntryKind::Dir {
                let out: [u8; 32] = h.finalize().into();
                self.memo.insert(path.to_string(), out);
                return Ok(out);
            }
        }
        let kids: Vec<String> = self
            .children
            .get(path)
            .map(|v| v.iter().map(|e| e.path.clone()).collect())
            .unwrap_or_default();
        for kid in kids {
            let child_sum = self.sum(&kid, sel)?;
            let name = kid.rsplit('/').next().unwrap_or("");
            h.update(name.as_bytes());
            h.update(b"\0");
            h.update(child_sum);
        }
        let out: [u8; 32] = h.finalize().into();
        self.memo.insert(path.to_string(), out);
        Ok(out)
    }
}

fn header(h: &mut Sha256, e: &ContextEntry) {
    let link = e.link_target.as_deref().unwrap_or("");
    h.update(
        format!(
            "{}\0{:o}\0{}\0{}\0{}\0{}\0",
            e.kind.tag(),
            e.mode,
            e.uid,
            e.gid,
            e.size,
            link
        )
        .as_bytes(),
    );
    for (k, v) in &e.xattrs {
        h.update(format!("xattr\0{k}\0{v}\0").as_bytes());
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}
