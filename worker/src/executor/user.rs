//! `USER` resolved against the root filesystem's /etc/passwd and /etc/group exactly as
//! BuildKit's `oci.GetUser` does: `uid:gid` (numbers, or `root`) is taken as it is; anything
//! else goes through moby/sys/user's `GetExecUser`, which gives a user named or numbered in
//! passwd the supplementary groups that list that user's name, unless a group was given.

use std::path::Path;

use super::passwd::{
    go_atoi, parse_group, parse_passwd, read_user_file, AtoiError, GroupEntry, PasswdEntry,
};
use super::{ExecError, Result};

/// The ids a process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (BuildKit's `Sgids`): the groups listing the user by name, in
    /// /etc/group order, duplicates kept. The runtime spec adds the primary group in front.
    pub additional_gids: Vec<u32>,
    /// The home directory from passwd, `/` when the user is not listed there (`/root` for
    /// the default user).
    pub home: String,
}

/// moby/sys/user's limit for numeric ids (`maxID`, for 32-bit systems).
const MAX_ID: i64 = (1 << 31) - 1;

/// What `GetExecUser` found: ids as Go ints (converted like Go's `uint32(int)`).
struct ExecUser {
    uid: i64,
    gid: i64,
    sgids: Vec<i64>,
    /// The matched passwd entry's home.
    home: Option<Vec<u8>>,
}

/// Resolves `spec` (`user`, `uid`, `user:group`, `uid:gid`, `:group`, …; empty = root) in
/// `rootfs`.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser> {
    let is_default = spec.is_empty();
    let name = if is_default { "0" } else { spec };
    let found = match parse_uid_gid(name) {
        Some((uid, gid)) => ExecUser {
            uid: uid.into(),
            gid: gid.into(),
            sgids: Vec::new(),
            home: None,
        },
        None => match exec_user(rootfs, name) {
            Ok(u) => u,
            // BuildKit runs the default user as root whatever went wrong.
            Err(_) if is_default => ExecUser {
                uid: 0,
                gid: 0,
                sgids: Vec::new(),
                home: None,
            },
            Err(e) => return Err(e),
        },
    };
    // Go's uint32(int) conversions.
    let uid = found.uid as u32;
    let home = if is_default {
        "/root".to_string()
    } else {
        let home = found.home.or_else(|| home_of(rootfs, found.uid));
        match home {
            Some(h) if !h.is_empty() => String::from_utf8_lossy(&h).into_owned(),
            _ => "/".to_string(),
        }
    };
    Ok(ResolvedUser {
        uid,
        gid: found.gid as u32,
        additional_gids: found.sgids.iter().map(|&g| g as u32).collect(),
        home,
    })
}

/// BuildKit's `ParseUIDGID` fast path: `uid:gid`, each a decimal u32 or `root`.
fn parse_uid_gid(spec: &str) -> Option<(u32, u32)> {
    let (u, g) = spec.split_once(':')?;
    let id = |s: &str| match s {
        "root" => Some(0),
        _ if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    };
    Some((id(u)?, id(g)?))
}

/// moby/sys/user's `parseNumeric`: `(value, is_numeric)`.
fn parse_numeric(spec: &str, val: &str) -> Result<(i64, bool)> {
    match go_atoi(val.as_bytes()) {
        Ok(id) if (0..=MAX_ID).contains(&id) => Ok((id, true)),
        Err(AtoiError::Syntax) => Ok((0, false)),
        Ok(_) | Err(AtoiError::Range(_)) => Err(ExecError::IdOutOfRange { spec: spec.into() }),
    }
}

/// moby/sys/user's `GetExecUser(spec, nil, passwd, group)`.
fn exec_user(rootfs: &Path, spec: &str) -> Result<ExecUser> {
    // Every `:`-separated part past the second is ignored.
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or_default();
    let group_arg = parts.next().unwrap_or_default();
    let (uid_arg, is_uid) = parse_numeric(spec, user_arg)?;
    let (gid_arg, is_gid) = parse_numeric(spec, group_arg)?;

    let passwd_error = |source| ExecError::PasswdFile {
        user: if user_arg.is_empty() { "0" } else { user_arg }.to_string(),
        source,
    };
    let users: Vec<PasswdEntry> = match read_user_file(rootfs, "/etc/passwd") {
        Ok(Some((path, text))) => parse_passwd(&path, &text).map_err(passwd_error)?,
        Ok(None) => Vec::new(),
        Err(e) => return Err(passwd_error(e)),
    };
    let matched = users.into_iter().find(|u| {
        if user_arg.is_empty() {
            u.uid == 0
        } else if is_uid {
            u.uid == uid_arg
        } else {
            u.name == user_arg.as_bytes()
        }
    });
    let mut found = ExecUser {
        uid: 0,
        gid: 0,
        sgids: Vec::new(),
        home: None,
    };
    let matched_name = match matched {
        Some(u) => {
            found.uid = u.uid;
            found.gid = u.gid;
            found.home = Some(u.home);
            u.name
        }
        None if user_arg.is_empty() => Vec::new(),
        None if is_uid => {
            found.uid = uid_arg;
            Vec::new()
        }
        None => {
            return Err(ExecError::UnknownUser {
                user: user_arg.into(),
            })
        }
    };

    if group_arg.is_empty() && matched_name.is_empty() {
        return Ok(found);
    }
    let group_error = |source| ExecError::GroupFile {
        user: String::from_utf8_lossy(&matched_name).into_owned(),
        source,
    };
    let groups: Vec<GroupEntry> = match read_user_file(rootfs, "/etc/group") {
        Ok(Some((path, text))) => parse_group(&path, &text).map_err(group_error)?,
        Ok(None) => Vec::new(),
        Err(e) => return Err(group_error(e)),
    };
    if group_arg.is_empty() {
        // Supplementary groups only come with the implicit form.
        found.sgids = groups
            .iter()
            .filter(|g| g.members.contains(&matched_name))
            .map(|g| g.gid)
            .collect();
        return Ok(found);
    }
    let explicit = groups.iter().find(|g| {
        if is_gid {
            g.gid == gid_arg
        } else {
            g.name == group_arg.as_bytes()
        }
    });
    found.gid = match explicit {
        Some(g) => g.gid,
        None if is_gid => gid_arg,
        None => {
            return Err(ExecError::UnknownGroup {
                group: group_arg.into(),
            })
        }
    };
    Ok(found)
}

/// The home of the first passwd entry with `uid` (what runc looks up for `uid:gid`); a
/// passwd file that cannot be read counts as none.
fn home_of(rootfs: &Path, uid: i64) -> Option<Vec<u8>> {
    let (path, text) = read_user_file(rootfs, "/etc/passwd").ok()??;
    parse_passwd(&path, &text)
        .ok()?
        .into_iter()
        .find(|u| u.uid == uid)
        .map(|u| u.home)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn rootfs(passwd: &str, group: Option<&str>) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("etc")).unwrap();
        fs::write(t.path().join("etc/passwd"), passwd).unwrap();
        if let Some(g) = group {
            fs::write(t.path().join("etc/group"), g).unwrap();
        }
        t
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nbroken line\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\nnohome:x:1200:1200\n";
    const GROUP: &str = "root:x:0:root\nstaff:x:50:app,other\n# wheel:x:11:app\napp:x:1000:\nwheel:x:10:app\nstaff2:x:50:app\nbin:x:1:root,bin\n";

    fn ids(u: &ResolvedUser) -> (u32, u32, Vec<u32>) {
        (u.uid, u.gid, u.additional_gids.clone())
    }

    #[test]
    fn names_get_the_groups_listing_them_in_file_order() {
        let t = rootfs(PASSWD, Some(GROUP));
        let r = |s| resolve_user(t.path(), s).unwrap();
        // Duplicate gids stay, comments are skipped, the primary group is not added here.
        assert_eq!(ids(&r("app")), (1000, 1000, vec![50, 10, 50]));
        assert_eq!(r("app").home, "/home/app");
        // A uid listed in passwd is looked up by its name's memberships too.
        assert_eq!(ids(&r("1000")), (1000, 1000, vec![50, 10, 50]));
        assert_eq!(ids(&r("+1000")), (1000, 1000, vec![50, 10, 50]));
        // root by name or by default gets its memberships; `root:root` is the fast path.
        assert_eq!(ids(&r("root")), (0, 0, vec![0, 1]));
        assert_eq!(ids(&r("")), (0, 0, vec![0, 1]));
        assert_eq!(r("").home, "/root");
        assert_eq!(ids(&r("root:root")), (0, 0, vec![]));
        assert_eq!(ids(&r("nobody")), (65534, 65534, vec![]));
        assert_eq!(r("nohome").home, "/");
    }

    #[test]
    fn an_explicit_group_drops_the_supplementary_ones() {
        let t = rootfs(PASSWD, Some(GROUP));
        let r = |s| resolve_user(t.path(), s).unwrap();
        assert_eq!(ids(&r("app:staff")), (1000, 50, vec![]));
        assert_eq!(ids(&r("app:10")), (1000, 10, vec![]));
        assert_eq!(ids(&r("app:4343")), (1000, 4343, vec![]));
        assert_eq!(ids(&r("nobody:app")), (65534, 1000, vec![]));
        // `uid:gid` numbers are taken as they are, without reading anything.
        let numeric = r("4242:4343");
        assert_eq!(
            (ids(&numeric), numeric.home.as_str()),
            ((4242, 4343, vec![]), "/")
        );
        assert_eq!(r("1000:50").home, "/home/app");
        assert_eq!(ids(&r("4000000000:0")), (4_000_000_000, 0, vec![]));
        // Only the first two parts count; an empty user is uid 0's entry.
        assert_eq!(ids(&r("app:staff:ignored")), (1000, 50, vec![]));
        assert_eq!(ids(&r(":staff")), (0, 50, vec![]));
        assert_eq!(ids(&r("app:")), (1000, 1000, vec![50, 10, 50]));
        // An unlisted uid has gid 0 and no groups.
        assert_eq!(ids(&r("4242")), (4242, 0, vec![]));
    }

    #[test]
    fn missing_files_leave_numeric_ids_working() {
        let empty = tempfile::tempdir().unwrap();
        let r = |s| resolve_user(empty.path(), s);
        assert_eq!(ids(&r("7").unwrap()), (7, 0, vec![]));
        assert_eq!(ids(&r("").unwrap()), (0, 0, vec![]));
        assert_eq!(r("").unwrap().home, "/root");
        assert_eq!(ids(&r("7:8").unwrap()), (7, 8, vec![]));
        assert!(matches!(r("foo"), Err(ExecError::UnknownUser { .. })));
        // Without a group file a named user has no supplementary groups; a named group fails.
        let t = rootfs(PASSWD, None);
        assert_eq!(
            ids(&resolve_user(t.path(), "app").unwrap()),
            (1000, 1000, vec![])
        );
        assert_eq!(
            ids(&resolve_user(t.path(), "app:9").unwrap()),
            (1000, 9, vec![])
        );
        assert!(matches!(
            resolve_user(t.path(), "app:staff"),
            Err(ExecError::UnknownGroup { .. })
        ));
    }

    #[test]
    fn errors_carry_buildkit_messages() {
        let t = rootfs(PASSWD, Some(GROUP));
        let e = |s| resolve_user(t.path(), s).unwrap_err().to_string();
        assert_eq!(
            e("foo"),
            "unable to find user foo: no matching entries in passwd file"
        );
        assert_eq!(
            e("app:nope"),
            "unable to find group nope: no matching entries in group file"
        );
        for spec in ["-1", "2147483648", "app:-5", "99999999999999999999"] {
            assert_eq!(
                e(spec),
                format!("invalid user {spec:?}: uids and gids must be in range 0-2147483647")
            );
        }
        // The default user never fails.
        fs::write(
            t.path().join("etc/passwd"),
            format!("{}\n", "x".repeat(super::super::passwd::MAX_PASSWD_LINE)),
        )
        .unwrap();
        assert_eq!(ids(&resolve_user(t.path(), "").unwrap()), (0, 0, vec![]));
        assert!(matches!(
            resolve_user(t.path(), "app"),
            Err(ExecError::PasswdFile { .. })
        ));
        // A group file that cannot be read fails only when it is needed.
        fs::write(t.path().join("etc/passwd"), PASSWD).unwrap();
        fs::write(
            t.path().join("etc/group"),
            format!(
                "g:x:1:{}\n",
                "m".repeat(super::super::passwd::MAX_GROUP_LINE)
            ),
        )
        .unwrap();
        assert_eq!(
            ids(&resolve_user(t.path(), "4242").unwrap()),
            (4242, 0, vec![])
        );
        let msg = e("app");
        assert!(
            msg.starts_with("unable to find groups for spec app: line 1 of"),
            "{msg}"
        );
    }
}
