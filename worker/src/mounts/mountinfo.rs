//! This process's mount table (`/proc/self/mountinfo`): what is mounted below a directory,
//! and detaching it (what a killed worker left mounted in its data dir).

use std::path::{Path, PathBuf};

use nix::mount::{umount2, MntFlags};

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// Why the mounts below a directory could not be listed or detached.
#[derive(Debug, thiserror::Error)]
pub enum MountTableError {
    #[error("reading {MOUNTINFO}: {0}")]
    Read(#[source] std::io::Error),
    #[error("detaching the mount at {target}: {source}")]
    Detach {
        target: PathBuf,
        #[source]
        source: nix::Error,
    },
}

/// Mount points strictly below `dir` (not `dir` itself), deepest first; a point mounted
/// over several times is listed once per mount. `dir` should be canonical, as the table's
/// paths are.
pub fn points_below(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let table = std::fs::read_to_string(MOUNTINFO)?;
    Ok(points_below_in(&table, dir))
}

fn points_below_in(table: &str, dir: &Path) -> Vec<PathBuf> {
    // Field 5 is the mount point (octal-escaped).
    let mut points: Vec<PathBuf> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|p| p.starts_with(dir) && p != dir)
        .collect();
    // Stable: mounts stacked on one point stay in mount order.
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
}

/// Lazily unmounts (`MNT_DETACH`) everything mounted below `dir`, deepest first, so that
/// removing the directories afterwards never reaches into a mounted filesystem. Returns
/// the points detached; one already gone with its parent is skipped.
pub fn detach_below(dir: &Path) -> Result<Vec<PathBuf>, MountTableError> {
    let mut detached = Vec::new();
    for target in points_below(dir).map_err(MountTableError::Read)? {
        match umount2(&target, MntFlags::MNT_DETACH) {
            Ok(()) => detached.push(target),
            // No longer a mount point (went with a parent, or unmounted meanwhile).
            Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
            Err(source) => return Err(MountTableError::Detach { target, source }),
        }
    }
    Ok(detached)
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash, ...).
pub(crate) fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, c| acc.wrapping_mul(8).wrapping_add(c - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape("/a\\040b\\134c"), PathBuf::from("/a b\\c"));
    }

    #[test]
    fn strictly_below_deepest_first() {
        let table = "\
22 1 0:21 / /data rw - tmpfs tmpfs rw
30 22 0:40 / /data/a rw - overlay overlay rw
31 30 0:41 / /data/a/b/c rw - tmpfs tmpfs rw
32 22 0:42 / /data\\040x/y rw - tmpfs tmpfs rw
33 22 0:43 / /datab rw - tmpfs tmpfs rw
34 30 0:44 / /data/a rw - tmpfs tmpfs rw
";
        assert_eq!(
            points_below_in(table, Path::new("/data")),
            ["/data/a/b/c", "/data/a", "/data/a"].map(PathBuf::from)
        );
        assert_eq!(
            points_below_in(table, Path::new("/data x")),
            [PathBuf::from("/data x/y")]
        );
    }
}
