//! Git references in Dockerfile sources (`ADD <git-url>`, git build contexts), read as
//! BuildKit reads them: `dfgitutil.ParseGitRef` over `gitutil.ParseURL`,
//! `sshutil.ParseSCPStyleURL` and the parts of Go's `net/url` (Go 1.26) those rely on.
//!
//! A string that fails to parse as a URL is not a git reference (`Ok(None)`), exactly as
//! BuildKit's `isGit == false`; only a git reference with bad options is an error.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use crate::gopath;

/// A parsed git reference (BuildKit's `dfgitutil.GitRef`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitRef {
    /// The repository for the git CLI: the URL without query and fragment. Credentials in
    /// the URL are kept, as BuildKit keeps them; `github.com/…` has no scheme.
    pub remote: String,
    /// The repository's directory name, e.g. `bar` for `https://github.com/foo/bar.git`.
    pub short_name: String,
    /// A commit, tag or branch; `""` is the default branch. The `tag=`/`branch=` queries
    /// give `refs/tags/…`/`refs/heads/…`.
    pub reference: String,
    /// The expected commit (`checksum=` or `commit=` query), `""` when absent.
    pub checksum: String,
    /// A directory inside the repository, `""` when absent.
    pub subdir: String,
    pub keep_git_dir: Option<bool>,
    pub submodules: Option<bool>,
    /// `""`, `"checkout"` or `"commit"`.
    pub mtime: String,
    /// Trust `checksum` as the commit and fetch it directly.
    pub fetch_by_commit: bool,
    /// `git://` and `http://`: unencrypted, discouraged but allowed.
    pub unencrypted_tcp: bool,
    /// The deprecated `github.com/foo/bar` form, which looks like a local path.
    pub indistinguishable_from_local: bool,
}

/// A git reference whose options are malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitRefError {
    #[error("query {key:?} has no value")]
    QueryNoValue { key: String },
    #[error("query {key:?} has multiple values")]
    QueryMultipleValues { key: String },
    #[error("ref conflicts: {a:?} vs {b:?}")]
    RefConflict { a: String, b: String },
    #[error("subdir conflicts: {a:?} vs {b:?}")]
    SubdirConflict { a: String, b: String },
    /// `checksum=` and `commit=` disagree (BuildKit keeps whichever its map yields last).
    #[error("checksum conflicts: {a:?} vs {b:?}")]
    ChecksumConflict { a: String, b: String },
    #[error("branch conflicts with tag")]
    BranchAndTag,
    #[error("invalid {key} value: {value:?}")]
    InvalidBool { key: String, value: String },
    #[error("invalid mtime value: {value:?} (must be \"checkout\" or \"commit\")")]
    InvalidMtime { value: String },
    #[error("unexpected query {key:?}")]
    UnexpectedQuery { key: String },
    /// A %-escape decodes to bytes that are not UTF-8 (Go would pass them through).
    #[error("the {part} of the git reference is not valid UTF-8")]
    NotUtf8 { part: String },
}

/// Parses `s` as BuildKit's `dfgitutil.ParseGitRef` does.
///
/// `Ok(None)`: `s` is not a git reference (a local path, an http(s) URL whose path does
/// not end in `.git`, an unknown scheme, an unparsable URL).
/// `Err`: it is a git reference but malformed (bad query etc.).
pub fn parse_git_ref(s: &str) -> Result<Option<GitRef>, GitRefError> {
    let mut git_ref = GitRef::default();
    let url = if s.starts_with("./") || s.starts_with("../") {
        return Ok(None);
    } else if s.starts_with("github.com/") {
        git_ref.indistinguishable_from_local = true;
        let Some(mut url) = GoUrl::parse(s) else {
            return Ok(None);
        };
        url.scheme = "https".to_owned();
        url.into_git_url()
    } else {
        let Some(url) = parse_url(s) else {
            return Ok(None);
        };
        git_ref.unencrypted_tcp = matches!(url.scheme.as_str(), "http" | "git");
        // An http(s) URL is a git reference only when its path ends in ".git".
        if matches!(url.scheme.as_str(), "http" | "https") && !url.path.ends_with(b".git") {
            return Ok(None);
        }
        url
    };

    git_ref.remote = match url.remote.split_once("://") {
        Some((_, rest)) if git_ref.indistinguishable_from_local => rest.to_owned(),
        _ => url.remote,
    };
    let last = git_ref.remote.rsplit('/').next().unwrap_or_default();
    git_ref.short_name = last.strip_suffix(".git").unwrap_or(last).to_owned();
    let fragment = utf8(url.fragment, "fragment".to_owned())?;
    if let Some((reference, subdir)) = fragment_opts(&fragment) {
        (git_ref.reference, git_ref.subdir) = (reference, subdir);
    }
    git_ref.load_query(url.query)?;
    Ok(Some(git_ref))
}

impl GitRef {
    /// `GitRef.loadQuery`, in key order: conflicts do not depend on the order.
    fn load_query(&mut self, query: Query) -> Result<(), GitRefError> {
        let (mut tag, mut branch) = (None, None);
        for (key, values) in query {
            let key = String::from_utf8_lossy(&key).into_owned();
            // `parse_query` never records a key without a value.
            let [value] = values.as_slice() else {
                return Err(GitRefError::QueryMultipleValues { key });
            };
            let flag = matches!(
                key.as_str(),
                "submodules" | "keep-git-dir" | "fetch-by-commit"
            );
            if value.is_empty() && !flag {
                return Err(GitRefError::QueryNoValue { key });
            }
            let text = || utf8(value.clone(), format!("query {key:?}"));
            match key.as_str() {
                "ref" => self.set_ref(text()?)?,
                "tag" => tag = Some(text()?),
                "branch" => branch = Some(text()?),
                "subdir" => {
                    let subdir = text()?;
                    if !self.subdir.is_empty() && self.subdir != subdir {
                        let a = std::mem::take(&mut self.subdir);
                        return Err(GitRefError::SubdirConflict { a, b: subdir });
                    }
                    self.subdir = subdir;
                }
                "checksum" | "commit" => {
                    let checksum = text()?;
                    if !self.checksum.is_empty() && self.checksum != checksum {
                        let a = std::mem::take(&mut self.checksum);
                        return Err(GitRefError::ChecksumConflict { a, b: checksum });
                    }
                    self.checksum = checksum;
                }
                "keep-git-dir" => self.keep_git_dir = Some(parse_bool(&key, value)?),
                "submodules" => self.submodules = Some(parse_bool(&key, value)?),
                "fetch-by-commit" => self.fetch_by_commit = parse_bool(&key, value)?,
                "mtime" => match value.as_slice() {
                    b"checkout" | b"commit" => self.mtime = text()?,
                    _ => {
                        let value = String::from_utf8_lossy(value).into_owned();
                        return Err(GitRefError::InvalidMtime { value });
                    }
                },
                _ => return Err(GitRefError::UnexpectedQuery { key }),
            }
        }
        if let Some(tag) = &tag {
            self.set_ref(with_prefix("refs/tags/", tag))?;
        }
        if let Some(branch) = branch {
            if tag.is_some() {
                return Err(GitRefError::BranchAndTag);
            }
            self.set_ref(with_prefix("refs/heads/", &branch))?;
        }
        Ok(())
    }

    fn set_ref(&mut self, reference: String) -> Result<(), GitRefError> {
        if !self.reference.is_empty() && self.reference != reference {
            let a = std::mem::take(&mut self.reference);
            return Err(GitRefError::RefConflict { a, b: reference });
        }
        self.reference = reference;
        Ok(())
    }
}

fn with_prefix(prefix: &str, s: &str) -> String {
    if s.starts_with(prefix) {
        s.to_owned()
    } else {
        format!("{prefix}{s}")
    }
}

/// Go's `strconv.ParseBool`; a flag without a value is true.
fn parse_bool(key: &str, value: &[u8]) -> Result<bool, GitRefError> {
    match value {
        b"" | b"1" | b"t" | b"T" | b"true" | b"TRUE" | b"True" => Ok(true),
        b"0" | b"f" | b"F" | b"false" | b"FALSE" | b"False" => Ok(false),
        _ => Err(GitRefError::InvalidBool {
            key: key.to_owned(),
            value: String::from_utf8_lossy(value).into_owned(),
        }),
    }
}

fn utf8(bytes: Vec<u8>, part: String) -> Result<String, GitRefError> {
    String::from_utf8(bytes).map_err(|_| GitRefError::NotUtf8 { part })
}

/// `gitutil.parseOpts`: `ref[:subdir]`, the subdir cleaned and relative; `None` when empty.
fn fragment_opts(fragment: &str) -> Option<(String, String)> {
    if fragment.is_empty() {
        return None;
    }
    let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
    let subdir = gopath::clean(&format!("/{subdir}"));
    Some((
        reference.to_owned(),
        subdir.trim_start_matches('/').to_owned(),
    ))
}

/// Go's `url.Values`, in key order: decoded keys and their values, in the order given.
type Query = BTreeMap<Vec<u8>, Vec<Vec<u8>>>;

/// BuildKit's `gitutil.GitURL` (`user` and `host` are parsed as BuildKit parses them; only
/// the tests read them).
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct GitUrl {
    scheme: String,
    /// Go's `Userinfo.String()`: the escaped `user[:password]`.
    user: Option<String>,
    host: Vec<u8>,
    path: Vec<u8>,
    query: Query,
    fragment: Vec<u8>,
    /// The URL without query and fragment, for the git CLI.
    remote: String,
}

/// `gitutil.ParseURL`: a `scheme://` URL of a git protocol, or an scp-like `user@host:path`.
fn parse_url(s: &str) -> Option<GitUrl> {
    let proto = s.bytes().take_while(u8::is_ascii_alphanumeric).count();
    if proto > 0 && s.get(proto..)?.starts_with("://") {
        let scheme = s.get(..proto)?.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https" | "ssh" | "git") {
            return None;
        }
        return GoUrl::parse(s).map(GoUrl::into_git_url);
    }
    parse_scp(s)
}

/// `sshutil.ParseSCPStyleURL`, i.e. the regexp
/// `^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$`.
fn parse_scp(s: &str) -> Option<GitUrl> {
    let (user, rest) = s.split_once('@')?;
    let (host, rest) = rest.split_once(':')?;
    let user_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let host_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    // The regexp's `.` does not match a newline.
    if user.is_empty()
        || !user.bytes().all(user_ok)
        || host.is_empty()
        || !host.bytes().all(host_ok)
        || rest.contains('\n')
    {
        return None;
    }
    let (path, rest) = rest.split_at(rest.find(['?', '#']).unwrap_or(rest.len()));
    let (raw_query, fragment) = match rest.strip_prefix('?') {
        Some(rest) => rest.split_once('#').unwrap_or((rest, "")),
        None => ("", rest.strip_prefix('#').unwrap_or_default()),
    };
    let (query, ok) = parse_query(raw_query);
    ok.then(|| GitUrl {
        scheme: "ssh".to_owned(),
        user: Some(user.to_owned()),
        host: host.into(),
        path: path.into(),
        query,
        fragment: fragment.into(),
        remote: format!("{user}@{host}:{path}"),
    })
}

/// Go's `url.ParseQuery`: the pairs it could decode, and whether all could be.
fn parse_query(raw: &str) -> (Query, bool) {
    let (mut query, mut ok) = (Query::new(), true);
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        if pair.contains(';') {
            ok = false;
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (unescape(key, Mode::Query), unescape(value, Mode::Query)) {
            (Some(key), Some(value)) => query.entry(key).or_default().push(value),
            _ => ok = false,
        }
    }
    (query, ok)
}

/// The fields of Go's `url.URL` that git URLs reach.
#[derive(Default)]
struct GoUrl {
    scheme: String,
    user: Option<String>,
    host: Vec<u8>,
    path: Vec<u8>,
    /// The path as written (Go keeps it as `RawPath` when it is a valid encoding).
    raw_path: String,
    force_query: bool,
    raw_query: String,
    fragment: Vec<u8>,
}

impl GoUrl {
    /// Go's `url.Parse`, for the `scheme://…` and scheme-less `github.com/…` shapes.
    fn parse(raw: &str) -> Option<GoUrl> {
        let (raw, fragment) = raw.split_once('#').unwrap_or((raw, ""));
        if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
            return None;
        }
        let mut url = GoUrl {
            fragment: unescape(fragment, Mode::Fragment)?,
            ..GoUrl::default()
        };
        let (scheme, rest) = get_scheme(raw)?;
        url.scheme = scheme.to_ascii_lowercase();
        let rest = match rest.strip_suffix('?') {
            Some(rest) if !rest.contains('?') => {
                url.force_query = true;
                rest
            }
            _ => {
                let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
                url.raw_query = query.to_owned();
                rest
            }
        };
        if !rest.starts_with('/') {
            // `scheme:opaque` never reaches here: git schemes are followed by "://".
            let first_segment = rest.split('/').next().unwrap_or_default();
            if !url.scheme.is_empty() || first_segment.contains(':') {
                return None;
            }
        }
        let mut path = rest;
        if rest.starts_with("//") && (!url.scheme.is_empty() || !rest.starts_with("///")) {
            let authority = rest.get(2..)?;
            let (authority, rest) =
                authority.split_at(authority.find('/').unwrap_or(authority.len()));
            (url.user, url.host) = parse_authority(authority)?;
            path = rest;
        }
        url.path = unescape(path, Mode::Path)?;
        url.raw_path = path.to_owned();
        Some(url)
    }

    /// Go's `URL.String()` without query and fragment (`ForceQuery` still adds a `?`).
    fn remote(&self) -> String {
        let mut s = String::new();
        if !self.scheme.is_empty() {
            s.push_str(&self.scheme);
            s.push(':');
        }
        if !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some() {
            if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                s.push_str("//");
            }
            if let Some(user) = &self.user {
                s.push_str(user);
                s.push('@');
            }
            s.push_str(&escape(&self.host, Mode::Host));
        }
        // `EscapedPath`: the path as written when that is a valid encoding.
        let path = if valid_encoded_path(&self.raw_path) {
            self.raw_path.clone()
        } else {
            escape(&self.path, Mode::Path)
        };
        if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
            s.push('/');
        }
        s.push_str(&path);
        if self.force_query {
            s.push('?');
        }
        s
    }

    /// `gitutil.FromURL`.
    fn into_git_url(self) -> GitUrl {
        GitUrl {
            remote: self.remote(),
            query: parse_query(&self.raw_query).0,
            scheme: self.scheme,
            user: self.user,
            host: self.host,
            path: self.path,
            fragment: self.fragment,
        }
    }
}

/// Go's `getScheme`; `None` for "missing protocol scheme".
fn get_scheme(raw: &str) -> Option<(&str, &str)> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return None,
            b':' => return Some((raw.get(..i)?, raw.get(i + 1..)?)),
            _ => break,
        }
    }
    Some(("", raw))
}

/// Go's `parseAuthority`: the escaped userinfo and the decoded host.
fn parse_authority(authority: &str) -> Option<(Option<String>, Vec<u8>)> {
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return Some((None, parse_host(authority)?));
    };
    let host = parse_host(host)?;
    let valid = |c: char| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c);
    if !userinfo.chars().all(valid) {
        return None;
    }
    let part = |s: &str| {
        Some(escape(
            &unescape(s, Mode::UserPassword)?,
            Mode::UserPassword,
        ))
    };
    let user = match userinfo.split_once(':') {
        Some((name, password)) => format!("{}:{}", part(name)?, part(password)?),
        None => part(userinfo)?,
    };
    Some((Some(user), host))
}

/// Go 1.26's `parseHost`: `[IPv6%25zone]:port` or `host:port`, the port digits only.
fn parse_host(host: &str) -> Option<Vec<u8>> {
    let valid_port = |p: &str| {
        p.strip_prefix(':')
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
    };
    match host.rfind('[') {
        Some(0) => {
            let close = host.rfind(']')?;
            let port = host.get(close + 1..)?;
            if !port.is_empty() && !valid_port(port) {
                return None;
            }
            let inner = host.get(1..close)?;
            let (addr, zone) = match inner.find("%25") {
                Some(z) => (
                    unescape(inner.get(..z)?, Mode::Host)?,
                    unescape(inner.get(z..)?, Mode::Zone)?,
                ),
                None => (unescape(inner, Mode::Host)?, Vec::new()),
            };
            // `netip.ParseAddr` of the address and zone: IPv6 only, a zone not empty.
            std::str::from_utf8(&addr).ok()?.parse::<Ipv6Addr>().ok()?;
            if zone.len() == 1 {
                return None;
            }
            Some([b"[", &addr[..], &zone[..], b"]", port.as_bytes()].concat())
        }
        Some(_) => None,
        None => {
            if let Some(i) = host.find(':') {
                if !valid_port(host.get(i..)?) {
                    return None;
                }
            }
            unescape(host, Mode::Host)
        }
    }
}

/// The parts of a URL, each escaped its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Query,
    Fragment,
}

/// Go's `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone) {
        return !b"!$&'()*+,;=:[]<>\"".contains(&c);
    }
    match c {
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => c == b'?',
            Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => false,
            _ => true,
        },
        b'!' | b'(' | b')' | b'*' => mode != Mode::Fragment,
        _ => true,
    }
}

/// Go's `unescape`; `None` for a bad escape or, in a host, a bad character.
fn unescape(s: &str, mode: Mode) -> Option<Vec<u8>> {
    let hex = |b: Option<&u8>| {
        char::from(*b?)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'%' => {
                let (hi, lo) = (hex(bytes.get(i + 1))?, hex(bytes.get(i + 2))?);
                let v = hi << 4 | lo;
                // A host %-encodes only non-ASCII bytes, except %25 (RFC 6874 zones); a
                // zone only what it could hold as written.
                match mode {
                    Mode::Host if hi < 8 && v != b'%' => return None,
                    Mode::Zone if v != b'%' && v != b' ' && should_escape(v, Mode::Host) => {
                        return None
                    }
                    _ => {}
                }
                out.push(v);
                i += 3;
                continue;
            }
            b'+' if mode == Mode::Query => out.push(b' '),
            _ if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) => {
                return None;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

/// Go's `escape` (no mode here turns a space into `+`).
fn escape(s: &[u8], mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s {
        if should_escape(c, mode) {
            out.push_str(&format!("%{c:02X}"));
        } else {
            out.push(char::from(c));
        }
    }
    out
}

/// Go's `validEncoded` for a path.
fn valid_encoded_path(s: &str) -> bool {
    s.bytes()
        .all(|c| b"!$&'()*+,;=:@[]%".contains(&c) || !should_escape(c, Mode::Path))
}

#[cfg(test)]
#[path = "git_ref_tests.rs"]
mod tests;
