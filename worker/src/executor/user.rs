//! `USER name[:group]` resolved against the root filesystem's /etc/passwd and /etc/group,
//! with the rules of runc's `GetExecUser` (which BuildKit uses).

use std::fs;
use std::path::Path;

use super::rootpath::resolve;
use super::{ExecError, Result};

/// The ids a process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: those listing the user by name, unless a group was given.
    pub additional_gids: Vec<u32>,
    /// The home directory from passwd, `/` when the user is not listed there.
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Resolves `spec` (`user`, `uid`, `user:group`, `uid:gid`, …; empty = root) in `rootfs`.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser> {
    if spec.is_empty() {
        return Ok(ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            home: "/root".into(),
        });
    }
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user_arg.is_empty() || group_arg == Some("") {
        return Err(ExecError::InvalidSpec {
            field: "user",
            value: spec.into(),
            reason: "expected user[:group]",
        });
    }
    let passwd = parse_passwd(&read_etc(rootfs, "/etc/passwd")?);
    let numeric_user = user_arg.parse::<u32>().ok();
    let entry = passwd
        .iter()
        .find(|e| e.name == user_arg || Some(e.uid) == numeric_user);
    let (uid, mut gid, home, name) = match (entry, numeric_user) {
        (Some(e), _) => (e.uid, e.gid, e.home.clone(), Some(e.name.as_str())),
        (None, Some(n)) => (n, 0, "/".to_string(), None),
        (None, None) => {
            return Err(ExecError::UnknownUser {
                user: user_arg.into(),
            })
        }
    };
    let groups = parse_group(&read_etc(rootfs, "/etc/group")?);
    let mut additional_gids = Vec::new();
    match group_arg {
        Some(g) => {
            let numeric = g.parse::<u32>().ok();
            gid = match (
                groups
                    .iter()
                    .find(|e| e.name == g || Some(e.gid) == numeric),
                numeric,
            ) {
                (Some(e), _) => e.gid,
                (None, Some(n)) => n,
                (None, None) => return Err(ExecError::UnknownGroup { group: g.into() }),
            };
        }
        None => {
            if let Some(name) = name {
                for g in groups
                    .iter()
                    .filter(|g| g.members.iter().any(|m| m == name))
                {
                    if !additional_gids.contains(&g.gid) {
                        additional_gids.push(g.gid);
                    }
                }
            }
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// The file's content, or empty when it does not exist (numeric ids still work then).
fn read_etc(rootfs: &Path, path: &str) -> Result<String> {
    let host = resolve(rootfs, path)?;
    match fs::read(&host) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(ExecError::Io {
            op: "reading",
            path: host,
            source: e,
        }),
    }
}

/// Malformed lines are skipped, as libc does.
fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    fields(text)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f
                    .get(5)
                    .filter(|h| !h.is_empty())
                    .unwrap_or(&"/")
                    .to_string(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    fields(text)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn fields(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("etc")).unwrap();
        fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nbroken line\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n",
        )
        .unwrap();
        fs::write(
            t.path().join("etc/group"),
            "root:x:0:\nstaff:x:50:app,other\napp:x:1000:\nwheel:x:10:app\n",
        )
        .unwrap();
        t
    }

    #[test]
    fn resolves_like_runc() {
        let t = rootfs();
        let r = |s| resolve_user(t.path(), s);
        assert_eq!(r("").unwrap().uid, 0);
        let app = r("app").unwrap();
        assert_eq!(
            (
                app.uid,
                app.gid,
                app.additional_gids.clone(),
                app.home.as_str()
            ),
            (1000, 1000, vec![50, 10], "/home/app")
        );
        let app_staff = r("app:staff").unwrap();
        assert_eq!(
            (
                app_staff.uid,
                app_staff.gid,
                app_staff.additional_gids.len()
            ),
            (1000, 50, 0)
        );
        assert_eq!(r("1000").unwrap().additional_gids, vec![50, 10]);
        let numeric = r("4242:4343").unwrap();
        assert_eq!(
            (numeric.uid, numeric.gid, numeric.home.as_str()),
            (4242, 4343, "/")
        );
        assert_eq!(r("4242").unwrap().gid, 0);
        assert_eq!(r("nobody:app").unwrap().gid, 1000);
    }

    #[test]
    fn unknown_names_fail_with_buildkit_messages() {
        let t = rootfs();
        let e = resolve_user(t.path(), "foo").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user foo: no matching entries in passwd file"
        );
        let e = resolve_user(t.path(), "app:nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nope: no matching entries in group file"
        );
        assert!(matches!(
            resolve_user(t.path(), ":x"),
            Err(ExecError::InvalidSpec { .. })
        ));
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            resolve_user(empty.path(), "foo"),
            Err(ExecError::UnknownUser { .. })
        ));
        assert_eq!(resolve_user(empty.path(), "7").unwrap().uid, 7);
    }
}
