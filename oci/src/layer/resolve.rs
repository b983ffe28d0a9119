//! Entry names and the resolution of their parent directories inside the root.
//!
//! Rules (decided for slipway, stricter than containerd's silent clean-up):
//! - a name is split on `/`; empty and `.` components are dropped (`./a//b` is `a/b`);
//! - an absolute name (leading `/`) is refused, as is any `..` component, anywhere;
//! - parents are walked one component at a time with `openat(O_NOFOLLOW)`; a missing parent
//!   is created (0755); a parent that is a symlink is followed only when its target stays inside
//!   the root lexically (relative, never above the root); an absolute target is refused.

use super::apply::ApplyError;
use super::sys;
use std::collections::VecDeque;
use std::ffi::CString;
use std::os::fd::OwnedFd;

const MAX_LINKS: usize = 40;

/// A validated entry name: its components, none of them empty, `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryName {
    pub components: Vec<Vec<u8>>,
}

impl EntryName {
    pub fn parse(raw: &[u8], shown: &str) -> Result<EntryName, ApplyError> {
        if raw.first() == Some(&b'/') {
            return Err(ApplyError::Absolute {
                entry: shown.to_string(),
            });
        }
        if raw.contains(&0) {
            return Err(ApplyError::BadName {
                entry: shown.to_string(),
            });
        }
        let mut components = Vec::new();
        for c in raw.split(|b| *b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    return Err(ApplyError::Traversal {
                        entry: shown.to_string(),
                    })
                }
                other => components.push(other.to_vec()),
            }
        }
        Ok(EntryName { components })
    }

    pub fn split_last(&self) -> Option<(&[Vec<u8>], &[u8])> {
        self.components
            .split_last()
            .map(|(last, parents)| (parents, last.as_slice()))
    }

    pub fn key(&self) -> Vec<u8> {
        self.components.join(&b'/')
    }
}

/// A parent directory resolved inside the root: an fd pinning it and its symlink-free path.
pub struct Resolved {
    pub fd: OwnedFd,
    pub path: Vec<Vec<u8>>,
}

impl Resolved {
    pub fn child_key(&self, name: &[u8]) -> Vec<u8> {
        let mut parts = self.path.clone();
        parts.push(name.to_vec());
        parts.join(&b'/')
    }
}

/// Resolves `components` (a directory path) inside `root`. With `create`, missing directories
/// are made; without, `Ok(None)` is returned when something is missing.
pub fn resolve_dir(
    root: &OwnedFd,
    components: &[Vec<u8>],
    create: bool,
    entry: &str,
) -> Result<Option<Resolved>, ApplyError> {
    let io = |op: &'static str| {
        move |source: std::io::Error| ApplyError::Io {
            entry: entry.to_string(),
            op,
            source,
        }
    };
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(io("dup"));
    let mut stack: Vec<(Vec<u8>, OwnedFd)> = Vec::new();
    let mut queue: VecDeque<Vec<u8>> = components.iter().cloned().collect();
    let mut links = 0usize;
    while let Some(c) = queue.pop_front() {
        match c.as_slice() {
            b"" | b"." => continue,
            b".." => {
                // Only symlink targets put `..` here; names with `..` were refused earlier.
                if stack.pop().is_none() {
                    return Err(ApplyError::SymlinkEscape {
                        entry: entry.to_string(),
                        component: String::from_utf8_lossy(&c).into_owned(),
                        target: "..".into(),
                    });
                }
                continue;
            }
            _ => {}
        }
        let cur = match stack.last() {
            Some((_, fd)) => dup(fd)?,
            None => dup(root)?,
        };
        let name = sys::cstr(&c).map_err(io("name"))?;
        match sys::lstat_at(&cur, &name).map_err(io("lstat"))? {
            None if create => {
                sys::mkdir_at(&cur, &name, 0o755).map_err(io("mkdir parent"))?;
            }
            None => return Ok(None),
            Some(st) if sys::is_symlink(&st) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ApplyError::SymlinkLoop {
                        entry: entry.to_string(),
                    });
                }
                let target = sys::readlink_at(&cur, &name).map_err(io("readlink"))?;
                let shown_component = shown_path(&stack, &c);
                if target.first() == Some(&b'/') {
                    return Err(ApplyError::SymlinkEscape {
                        entry: entry.to_string(),
                        component: shown_component,
                        target: String::from_utf8_lossy(&target).into_owned(),
                    });
                }
                // Check lexically that the target does not climb above the root.
                let mut depth = stack.len() as i64;
                for t in target.split(|b| *b == b'/') {
                    match t {
                        b"" | b"." => {}
                        b".." => depth -= 1,
                        _ => depth += 1,
                    }
                    if depth < 0 {
                        return Err(ApplyError::SymlinkEscape {
                            entry: entry.to_string(),
                            component: shown_component,
                            target: String::from_utf8_lossy(&target).into_owned(),
                        });
                    }
                }
                for t in target.split(|b| *b == b'/').rev() {
                    queue.push_front(t.to_vec());
                }
                continue;
            }
            Some(st) if sys::is_dir(&st) => {}
            Some(_) => {
                return Err(ApplyError::NotADirectory {
                    entry: entry.to_string(),
                    component: shown_path(&stack, &c),
                })
            }
        }
        let fd = sys::open_dir_at(&cur, &name).map_err(io("open parent"))?;
        stack.push((c, fd));
    }
    let fd = match stack.last() {
        Some((_, fd)) => dup(fd)?,
        None => dup(root)?,
    };
    Ok(Some(Resolved {
        fd,
        path: stack.into_iter().map(|(c, _)| c).collect(),
    }))
}

fn shown_path(stack: &[(Vec<u8>, OwnedFd)], last: &[u8]) -> String {
    let mut parts: Vec<&[u8]> = stack.iter().map(|(c, _)| c.as_slice()).collect();
    parts.push(last);
    String::from_utf8_lossy(&parts.join(&b'/')).into_owned()
}

pub fn cname(name: &[u8], entry: &str) -> Result<CString, ApplyError> {
    sys::cstr(name).map_err(|_| ApplyError::BadName {
        entry: entry.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let n = EntryName::parse(b"./a//b/./c/", "x").unwrap();
        assert_eq!(n.key(), b"a/b/c");
        assert!(matches!(
            EntryName::parse(b"/etc/passwd", "x"),
            Err(ApplyError::Absolute { .. })
        ));
        assert!(matches!(
            EntryName::parse(b"a/../../x", "x"),
            Err(ApplyError::Traversal { .. })
        ));
        assert!(matches!(
            EntryName::parse(b"../x", "x"),
            Err(ApplyError::Traversal { .. })
        ));
        assert!(EntryName::parse(b"./", "x").unwrap().components.is_empty());
    }
}
