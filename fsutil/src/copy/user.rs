//! `--chown` resolution against the destination's `/etc/passwd` and `/etc/group` (read
//! inside the destination root, like BuildKit's file backend).

use super::meta::Owner;
use crate::error::FsError;
use crate::root::{resolve_in_root, FollowFinal};
use slipway_graph::{Chown, UserSpec};
use std::path::{Path, PathBuf};

/// One `name:...:id:...` line: (name, id, primary gid for passwd).
struct IdEntry {
    name: String,
    id: u32,
    gid: u32,
}

fn read_id_file(
    root: &Path,
    file: &str,
    passwd: bool,
) -> Result<(PathBuf, Option<Vec<IdEntry>>), FsError> {
    let path = resolve_in_root(root, file, FollowFinal::Follow)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((path, None)),
        Err(e) => return Err(FsError::io("reading", path, e)),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        let (Some(name), Some(id)) = (fields.first(), fields.get(2)) else {
            return Err(FsError::MalformedIdFile {
                file: path.clone(),
                line: n + 1,
            });
        };
        let Ok(id) = id.parse::<u32>() else { continue };
        let gid = if passwd {
            fields.get(3).and_then(|g| g.parse().ok()).unwrap_or(id)
        } else {
            id
        };
        out.push(IdEntry {
            name: (*name).to_string(),
            id,
            gid,
        });
    }
    Ok((path, Some(out)))
}

/// Resolves a graph `Chown` to numeric ids. Numeric users imply the same group id unless a
/// group is given; named users take their primary group from passwd.
pub fn resolve_chown(chown: &Chown, dest_root: &Path) -> Result<Owner, FsError> {
    let (uid, mut gid) = match &chown.user {
        UserSpec::Id(id) => (*id, *id),
        UserSpec::Name(name) => {
            let (path, entries) = read_id_file(dest_root, "/etc/passwd", true)?;
            let found = entries
                .iter()
                .flatten()
                .find(|e| e.name == *name)
                .map(|e| (e.id, e.gid));
            match (found, name.parse::<u32>()) {
                (Some(ids), _) => ids,
                (None, Ok(n)) => (n, n),
                (None, Err(_)) => {
                    return Err(FsError::UnknownUser {
                        name: name.clone(),
                        passwd: path,
                    })
                }
            }
        }
    };
    match &chown.group {
        None => {}
        Some(UserSpec::Id(g)) => gid = *g,
        Some(UserSpec::Name(name)) => {
            let (path, entries) = read_id_file(dest_root, "/etc/group", false)?;
            let found = entries
                .iter()
                .flatten()
                .find(|e| e.name == *name)
                .map(|e| e.id);
            gid = match (found, name.parse::<u32>()) {
                (Some(g), _) => g,
                (None, Ok(n)) => n,
                (None, Err(_)) => {
                    return Err(FsError::UnknownGroup {
                        name: name.clone(),
                        group: path,
                    })
                }
            };
        }
    }
    Ok(Owner { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chown(user: UserSpec, group: Option<UserSpec>) -> Chown {
        Chown { user, group }
    }

    #[test]
    fn resolves_names_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n# c\napp:x:1000:1001::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nstaff:x:50:app\n").unwrap();
        let r = |c: Chown| resolve_chown(&c, root);
        assert_eq!(
            r(chown(UserSpec::Name("app".into()), None)).unwrap(),
            Owner {
                uid: 1000,
                gid: 1001
            }
        );
        assert_eq!(
            r(chown(UserSpec::Id(42), None)).unwrap(),
            Owner { uid: 42, gid: 42 }
        );
        assert_eq!(
            r(chown(
                UserSpec::Name("app".into()),
                Some(UserSpec::Name("staff".into()))
            ))
            .unwrap(),
            Owner { uid: 1000, gid: 50 }
        );
        assert_eq!(
            r(chown(UserSpec::Id(7), Some(UserSpec::Id(8)))).unwrap(),
            Owner { uid: 7, gid: 8 }
        );
        assert!(matches!(
            r(chown(UserSpec::Name("nobody".into()), None)),
            Err(FsError::UnknownUser { ref name, .. }) if name == "nobody"
        ));
        assert!(matches!(
            r(chown(UserSpec::Id(1), Some(UserSpec::Name("wheel".into())))),
            Err(FsError::UnknownGroup { ref name, .. }) if name == "wheel"
        ));
    }

    #[test]
    fn passwd_symlink_stays_in_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/passwd"), "svc:x:5:6::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("/real/passwd", root.join("etc/passwd")).unwrap();
        let o = resolve_chown(&chown(UserSpec::Name("svc".into()), None), root).unwrap();
        assert_eq!(o, Owner { uid: 5, gid: 6 });
    }
}
