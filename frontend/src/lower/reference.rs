//! Image references, normalised as `distribution/reference`'s `ParseNormalizedNamed` +
//! `TagNameOnly` do: `alpine` → `docker.io/library/alpine:latest`.

/// A parsed, normalised reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `docker.io/library/alpine`.
    pub name: String,
    pub tag: Option<String>,
    /// `sha256:...` when pinned.
    pub digest: Option<String>,
}

/// Why a reference is invalid (messages as `distribution/reference`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name must be lowercase")]
    Uppercase,
    #[error("repository name must have at least one component")]
    Empty,
    #[error("repository name must not be more than 255 characters")]
    TooLong,
    #[error("invalid tag format")]
    InvalidTag,
    #[error("invalid digest format")]
    InvalidDigest,
    #[error("invalid repository name ({name}), cannot specify 64-byte hexadecimal strings")]
    HexName { name: String },
}

const DEFAULT_DOMAIN: &str = "docker.io";
const OFFICIAL_PREFIX: &str = "library/";

impl ImageRef {
    /// The full form with `:latest` added when neither tag nor digest is given.
    pub fn to_tagged_string(&self) -> String {
        let mut s = self.name.clone();
        match (&self.tag, &self.digest) {
            (Some(t), _) => {
                s.push(':');
                s.push_str(t);
            }
            (None, None) => s.push_str(":latest"),
            (None, Some(_)) => {}
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The short form users write (`alpine`, `myorg/app:1`), without `:latest`.
    pub fn familiar(&self) -> String {
        let mut name = self.name.as_str();
        if let Some(rest) = name.strip_prefix("docker.io/") {
            name = rest.strip_prefix(OFFICIAL_PREFIX).unwrap_or(rest);
        }
        let mut s = name.to_string();
        if let Some(t) = self.tag.as_deref().filter(|t| *t != "latest") {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// Parses and normalises `input`.
pub fn normalize_reference(input: &str) -> Result<ImageRef, ReferenceError> {
    if input.is_empty() {
        return Err(ReferenceError::Empty);
    }
    if input.len() == 64
        && input
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(ReferenceError::HexName {
            name: input.to_string(),
        });
    }
    let (rest, digest) = match input.split_once('@') {
        Some((r, d)) => {
            if !valid_digest(d) {
                return Err(ReferenceError::InvalidDigest);
            }
            (r, Some(d.to_string()))
        }
        None => (input, None),
    };
    // A tag is after the last ':' that comes after the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let split = last_slash + i;
            (&rest[..split], Some(rest[split + 1..].to_string()))
        }
        None => (rest, None),
    };
    if let Some(t) = &tag {
        if !valid_tag(t) {
            return Err(ReferenceError::InvalidTag);
        }
    }
    let (domain, path) = split_domain(name);
    if path.is_empty() {
        return Err(ReferenceError::InvalidFormat);
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase);
    }
    if !valid_domain(&domain) || !path.split('/').all(valid_component) {
        return Err(ReferenceError::InvalidFormat);
    }
    let full = format!("{domain}/{path}");
    if full.len() > 255 {
        return Err(ReferenceError::TooLong);
    }
    Ok(ImageRef {
        name: full,
        tag,
        digest,
    })
}

fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path
    };
    (domain, path)
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

fn valid_digest(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else {
        return false;
    };
    let algo_ok = algo.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    algo_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize_reference(s).unwrap().to_tagged_string()
    }

    #[test]
    fn normalisation() {
        assert_eq!(norm("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(norm("node:20-alpine"), "docker.io/library/node:20-alpine");
        assert_eq!(norm("myorg/app"), "docker.io/myorg/app:latest");
        assert_eq!(norm("ghcr.io/o/r:v1"), "ghcr.io/o/r:v1");
        assert_eq!(norm("localhost:5000/x"), "localhost:5000/x:latest");
        let pinned = format!("alpine@sha256:{}", "a".repeat(64));
        assert_eq!(
            norm(&pinned),
            format!("docker.io/library/alpine@sha256:{}", "a".repeat(64))
        );
        assert_eq!(
            normalize_reference("docker.io/library/alpine:latest")
                .unwrap()
                .familiar(),
            "alpine"
        );
        assert_eq!(
            normalize_reference("myorg/app:1").unwrap().familiar(),
            "myorg/app:1"
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            normalize_reference("Alpine"),
            Err(ReferenceError::Uppercase)
        );
        assert_eq!(
            normalize_reference("a:b c"),
            Err(ReferenceError::InvalidTag)
        );
        assert_eq!(
            normalize_reference("a@sha256:zz"),
            Err(ReferenceError::InvalidDigest)
        );
        assert_eq!(
            normalize_reference("a//b"),
            Err(ReferenceError::InvalidFormat)
        );
        assert_eq!(normalize_reference(""), Err(ReferenceError::Empty));
        assert!(matches!(
            normalize_reference(&"a".repeat(64)),
            Err(ReferenceError::HexName { .. })
        ));
    }
}
