//! A hand parser for the common plain-ASCII image reference form
//! `[host[:port]/]path[:tag][@sha256:hex]`.
//!
//! oci-spec parses references with one large regex, compiled at the first parse in a process
//! (tens of ms of CPU, most of a no-op build). This parser accepts only a strict subset of what
//! that regex accepts and builds the same `Reference`; anything else (errors included) returns
//! `None` so that the caller falls back to the regex parser, which then decides.

use oci_client::Reference;

const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// oci-spec's bound on the repository part (`NAME_TOTAL_LENGTH_MAX`).
const REPOSITORY_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// The `Reference` oci-spec would build for `input`, when `input` is in the plain subset.
pub(super) fn parse_plain(input: &str) -> Option<Reference> {
    let (name_tag, digest) = match input.split_once('@') {
        Some((n, d)) => (n, Some(plain_digest(d)?)),
        None => (input, None),
    };
    let last_slash = name_tag.rfind('/');
    let (name, tag) = match name_tag.rfind(':') {
        Some(colon) if last_slash.is_none_or(|s| colon > s) => {
            let tag = name_tag.get(colon + 1..)?;
            (name_tag.get(..colon)?, Some(plain_tag(tag)?))
        }
        _ => (name_tag, None),
    };
    if !plain_name(name) {
        return None;
    }
    let (registry, repository) = split_domain(name);
    if repository.len() > REPOSITORY_MAX {
        return None;
    }
    Some(match (tag, digest) {
        (Some(t), Some(d)) => {
            Reference::with_tag_and_digest(registry, repository, t.to_string(), d.to_string())
        }
        (None, Some(d)) => Reference::with_digest(registry, repository, d.to_string()),
        (Some(t), None) => Reference::with_tag(registry, repository, t.to_string()),
        (None, None) => Reference::with_tag(registry, repository, "latest".to_string()),
    })
}

/// `sha256:` and 64 lowercase hex digits.
fn plain_digest(d: &str) -> Option<&str> {
    let hex = d.strip_prefix("sha256:")?;
    let ok = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(d)
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn plain_tag(t: &str) -> Option<&str> {
    let mut bytes = t.bytes();
    let first = bytes.next()?;
    let ok = t.len() <= TAG_MAX
        && (first.is_ascii_alphanumeric() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then_some(t)
}

/// `name` is `path` or `domain/path` in oci-spec's grammar.
fn plain_name(name: &str) -> bool {
    if name.split('/').all(path_component) {
        return true;
    }
    match name.split_once('/') {
        Some((domain, path)) => plain_domain(domain) && path.split('/').all(path_component),
        None => false,
    }
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any run of `-`.
fn path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !b.first().is_some_and(|&x| alnum(x)) || !b.last().is_some_and(|&x| alnum(x)) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let sep_ok = sep.is_empty()
            || sep == "."
            || sep == "_"
            || sep == "__"
            || sep.bytes().all(|x| x == b'-');
        if !sep_ok {
            return false;
        }
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
    }
    true
}

/// Dot-separated labels `[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?`, then an optional `:port`.
fn plain_domain(d: &str) -> bool {
    let (host, port) = match d.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        b.first().is_some_and(u8::is_ascii_alphanumeric)
            && b.last().is_some_and(u8::is_ascii_alphanumeric)
            && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
    };
    port_ok && host.split('.').all(label_ok)
}

/// Registry and repository, with docker.io's rules for short names (as oci-spec's `split_domain`).
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.split_once('/') {
        Some((left, right)) if left.contains('.') || left.contains(':') || left == "localhost" => {
            (left.to_string(), right.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if domain == DOCKER_HUB_LEGACY {
        domain = DOCKER_HUB.to_string();
    }
    if domain == DOCKER_HUB && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    (domain, rest)
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
