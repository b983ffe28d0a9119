//! `/etc/passwd` and `/etc/group` of a root filesystem, read the way moby/sys/user (the parser
//! BuildKit and runc use) reads them: each line trimmed, blank lines skipped (and `#` comments,
//! in group files only), fields split on `:`, missing fields empty, numbers that do not parse
//! read as 0 (out of range ones clamped, like Go's `strconv.Atoi`). Names are compared as bytes.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::rootpath::resolve;

/// BuildKit reads at most this much of a passwd or group file (`maxUserFileBytes`).
pub(crate) const MAX_USER_FILE_BYTES: u64 = 10 << 20;
/// `bufio.Scanner`'s default token limit, which moby/sys/user keeps for passwd files.
pub(crate) const MAX_PASSWD_LINE: usize = 64 * 1024;
/// The larger limit it sets for group files (member lists can be long).
pub(crate) const MAX_GROUP_LINE: usize = 1024 * 1024;

/// Why a passwd or group file that exists could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UserFileError {
    #[error("{path:?} exceeds {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("line {line} of {path:?} is longer than {limit} bytes")]
    LineTooLong {
        path: PathBuf,
        line: usize,
        limit: usize,
    },
    #[error("reading {path:?}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    pub name: Vec<u8>,
    pub uid: i64,
    pub gid: i64,
    pub home: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupEntry {
    pub name: Vec<u8>,
    pub gid: i64,
    pub members: Vec<Vec<u8>>,
}

/// The content of `path` in `rootfs`, or `None` where BuildKit's `openUserFile` gives up and
/// goes on without the file: it cannot be resolved inside the rootfs, opened, or is not a
/// regular file.
pub(crate) fn read_user_file(
    rootfs: &Path,
    path: &str,
) -> Result<Option<(PathBuf, Vec<u8>)>, UserFileError> {
    let Ok(host) = resolve(rootfs, path) else {
        return Ok(None);
    };
    let Ok(file) = fs::File::open(&host) else {
        return Ok(None);
    };
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        _ => return Ok(None),
    }
    let mut text = Vec::new();
    file.take(MAX_USER_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|source| UserFileError::Read {
            path: host.clone(),
            source,
        })?;
    if text.len() as u64 > MAX_USER_FILE_BYTES {
        return Err(UserFileError::TooLarge {
            path: host,
            limit: MAX_USER_FILE_BYTES,
        });
    }
    Ok(Some((host, text)))
}

/// Every entry of a passwd file (`name:password:uid:gid:gecos:home:shell`).
pub(crate) fn parse_passwd(path: &Path, text: &[u8]) -> Result<Vec<PasswdEntry>, UserFileError> {
    Ok(lines(path, text, MAX_PASSWD_LINE)?
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&[u8]> = l.split(|&b| b == b':').collect();
            let field = |i: usize| f.get(i).copied().unwrap_or_default();
            PasswdEntry {
                name: field(0).to_vec(),
                uid: go_atoi(field(2)).unwrap_or_else(|e| e.value()),
                gid: go_atoi(field(3)).unwrap_or_else(|e| e.value()),
                home: field(5).to_vec(),
            }
        })
        .collect())
}

/// Every entry of a group file (`name:password:gid:member,member`).
pub(crate) fn parse_group(path: &Path, text: &[u8]) -> Result<Vec<GroupEntry>, UserFileError> {
    Ok(lines(path, text, MAX_GROUP_LINE)?
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .map(|l| {
            let f: Vec<&[u8]> = l.split(|&b| b == b':').collect();
            let field = |i: usize| f.get(i).copied().unwrap_or_default();
            let members = field(3);
            GroupEntry {
                name: field(0).to_vec(),
                gid: go_atoi(field(2)).unwrap_or_else(|e| e.value()),
                members: if members.is_empty() {
                    Vec::new()
                } else {
                    members.split(|&b| b == b',').map(<[u8]>::to_vec).collect()
                },
            }
        })
        .collect())
}

/// The trimmed lines of `text`; a line of `limit` bytes or more fails as `bufio.Scanner` does
/// (its buffer of `limit` bytes must hold the line and its newline).
fn lines<'a>(
    path: &Path,
    text: &'a [u8],
    limit: usize,
) -> Result<impl Iterator<Item = &'a [u8]>, UserFileError> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    if let Some((n, _)) = body
        .split(|&b| b == b'\n')
        .enumerate()
        .find(|(_, l)| l.len() >= limit)
    {
        return Err(UserFileError::LineTooLong {
            path: path.to_path_buf(),
            line: n + 1,
            limit,
        });
    }
    Ok(body.split(|&b| b == b'\n').map(trim_space))
}

/// Go's `bytes.TrimSpace`: Unicode white space at both ends (ASCII white space, including
/// `\v`, when the line is not UTF-8).
fn trim_space(line: &[u8]) -> &[u8] {
    match std::str::from_utf8(line) {
        Ok(s) => s.trim().as_bytes(),
        Err(_) => {
            let space = |b: &u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
            let start = line.iter().position(|b| !space(b)).unwrap_or(line.len());
            let end = line
                .iter()
                .rposition(|b| !space(b))
                .map_or(start, |e| e + 1);
            &line[start..end]
        }
    }
}

/// Why [`go_atoi`] refused a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtoiError {
    /// Not `[+-]digits`; Go returns 0.
    Syntax,
    /// Beyond 64 bits; Go returns the value clamped to the nearest bound.
    Range(i64),
}

impl AtoiError {
    /// What Go's `Atoi` returns along with this error.
    pub fn value(self) -> i64 {
        match self {
            AtoiError::Syntax => 0,
            AtoiError::Range(v) => v,
        }
    }
}

/// Go's `strconv.Atoi` on a 64-bit platform: an optional sign, then decimal digits.
pub(crate) fn go_atoi(s: &[u8]) -> Result<i64, AtoiError> {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(AtoiError::Syntax);
    }
    let mut n: i128 = 0;
    for d in digits {
        n = n * 10 + i128::from(d - b'0');
        if n > i128::from(i64::MAX) + 1 {
            break;
        }
    }
    let n = if negative { -n } else { n };
    i64::try_from(n).map_err(|_| AtoiError::Range(if negative { i64::MIN } else { i64::MAX }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwd(text: &str) -> Vec<PasswdEntry> {
        parse_passwd(Path::new("/etc/passwd"), text.as_bytes()).unwrap()
    }

    fn group(text: &str) -> Vec<GroupEntry> {
        parse_group(Path::new("/etc/group"), text.as_bytes()).unwrap()
    }

    #[test]
    fn passwd_lines_parse_like_moby_sys_user() {
        let e = passwd("root:x:0:0:root:/root:/bin/sh\n\n  app:x:1000:1001::/home/app:/bin/sh \r\n# c:x:5:5\nshort:x:7\nbad:x:abc:-1\n");
        let rows: Vec<(&[u8], i64, i64, &[u8])> = e
            .iter()
            .map(|e| (&e.name[..], e.uid, e.gid, &e.home[..]))
            .collect();
        assert_eq!(
            rows,
            [
                (&b"root"[..], 0, 0, &b"/root"[..]),
                (b"app", 1000, 1001, b"/home/app"),
                // passwd files have no comments: this is a user named "# c".
                (b"# c", 5, 5, b""),
                (b"short", 7, 0, b""),
                (b"bad", 0, -1, b""),
            ]
        );
        assert!(passwd("").is_empty());
    }

    #[test]
    fn group_lines_keep_member_lists_as_written() {
        let g = group("# comment\nroot:x:0:\nstaff:x:50:app,other\nwheel:x:10:app\nodd:x:nan:,app,,x:extra\nbare\n");
        type Row<'a> = (&'a [u8], i64, Vec<&'a [u8]>);
        let rows: Vec<Row> = g
            .iter()
            .map(|g| {
                (
                    &g.name[..],
                    g.gid,
                    g.members.iter().map(Vec::as_slice).collect(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (&b"root"[..], 0, vec![]),
                (b"staff", 50, vec![&b"app"[..], b"other"]),
                (b"wheel", 10, vec![&b"app"[..]]),
                (b"odd", 0, vec![&b""[..], b"app", b"", b"x"]),
                (b"bare", 0, vec![]),
            ]
        );
    }

    #[test]
    fn long_lines_fail_like_bufio_scanner() {
        let p = Path::new("/etc/passwd");
        let ok = format!("{}\n", "a".repeat(MAX_PASSWD_LINE - 1));
        assert_eq!(parse_passwd(p, ok.as_bytes()).unwrap().len(), 1);
        let ok_last = "a".repeat(MAX_PASSWD_LINE - 1);
        assert_eq!(parse_passwd(p, ok_last.as_bytes()).unwrap().len(), 1);
        let long = format!("root:x:0:0\n{}\n", "a".repeat(MAX_PASSWD_LINE));
        let e = parse_passwd(p, long.as_bytes()).unwrap_err();
        assert!(
            matches!(e, UserFileError::LineTooLong { line: 2, .. }),
            "{e}"
        );
        // Group files allow longer lines.
        let members = vec!["m"; MAX_PASSWD_LINE].join(",");
        let g = format!("big:x:5:{members}\n");
        assert_eq!(
            parse_group(Path::new("/etc/group"), g.as_bytes()).unwrap()[0]
                .members
                .len(),
            MAX_PASSWD_LINE
        );
    }

    #[test]
    fn files_missing_irregular_or_too_large() {
        let t = tempfile::tempdir().unwrap();
        assert!(read_user_file(t.path(), "/etc/passwd").unwrap().is_none());
        fs::create_dir_all(t.path().join("etc/passwd")).unwrap();
        assert!(read_user_file(t.path(), "/etc/passwd").unwrap().is_none());
        fs::write(t.path().join("etc/group"), "g:x:1:\n").unwrap();
        let (host, text) = read_user_file(t.path(), "/etc/group").unwrap().unwrap();
        assert_eq!(
            (host, text),
            (t.path().join("etc/group"), b"g:x:1:\n".to_vec())
        );
        let big = t.path().join("etc/big");
        let f = fs::File::create(&big).unwrap();
        f.set_len(MAX_USER_FILE_BYTES).unwrap();
        assert!(read_user_file(t.path(), "/etc/big").unwrap().is_some());
        f.set_len(MAX_USER_FILE_BYTES + 1).unwrap();
        let e = read_user_file(t.path(), "/etc/big").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{:?} exceeds 10485760 bytes", t.path().join("etc/big"))
        );
        // A symlink is followed inside the rootfs.
        std::os::unix::fs::symlink("/etc/group", t.path().join("etc/grp")).unwrap();
        assert!(read_user_file(t.path(), "/etc/grp").unwrap().is_some());
    }

    #[test]
    fn atoi_matches_go() {
        assert_eq!(go_atoi(b"42"), Ok(42));
        assert_eq!(go_atoi(b"+7"), Ok(7));
        assert_eq!(go_atoi(b"-7"), Ok(-7));
        assert_eq!(go_atoi(b"007"), Ok(7));
        for bad in [&b""[..], b"+", b"-", b"1_000", b"0x10", b" 1", b"1a"] {
            assert_eq!(go_atoi(bad), Err(AtoiError::Syntax), "{bad:?}");
        }
        assert_eq!(go_atoi(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(go_atoi(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            go_atoi(b"9223372036854775808"),
            Err(AtoiError::Range(i64::MAX))
        );
        assert_eq!(
            go_atoi(b"-99999999999999999999999"),
            Err(AtoiError::Range(i64::MIN))
        );
    }
}
