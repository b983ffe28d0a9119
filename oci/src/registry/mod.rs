//! Registry client on top of `oci-client`: resolve, pull (manifests, platform selection, blobs
//! streamed to disk with verification), push (HEAD skip, cross-repository mount, monolithic or
//! chunked uploads streamed from disk, manifests by exact bytes, index last, tags), bounded
//! retries, plain HTTP for loopback and insecure registries.

mod client;
mod copy;
mod error;
pub mod manifest;
mod pull;
mod push;
mod reference;
mod retry;
mod stream;

pub use client::{RegistryClient, RegistryConfig, UploadMode};
pub use error::RegistryError;
pub use manifest::{Descriptor, ImageManifest, Index, Manifest, PlatformSpec};
pub use oci_client::Reference;
pub use pull::{PulledImage, PulledManifest};
pub use push::{BlobOutcome, LocalBlob, PushOptions, PushPlan, PushReport, RawManifest};
pub use retry::RetryConfig;

/// Parses `host[:port]/repo[:tag][@digest]` (docker.io rules for short names).
/// Plain ASCII references are parsed by hand; anything else by oci-spec's regex parser (whose
/// compilation costs tens of ms of CPU), which gives the same `Reference` or the error.
pub fn parse_reference(input: &str) -> Result<Reference, RegistryError> {
    let input_trimmed = input.trim();
    if let Some(r) = reference::parse_plain(input_trimmed) {
        return Ok(r);
    }
    input_trimmed
        .parse::<Reference>()
        .map_err(|source| RegistryError::InvalidReference {
            input: input.to_string(),
            source,
        })
}

/// Whether `registry` (`host[:port]`) is on the loopback interface: 127.0.0.0/8, localhost, [::1].
pub fn is_loopback_registry(registry: &str) -> bool {
    let host = host_of(registry);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The host part of `host[:port]`, without brackets for IPv6.
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            host
        }
        _ => registry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for r in [
            "127.0.0.1:5000",
            "127.3.4.5",
            "localhost",
            "LOCALHOST:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback_registry(r), "{r}");
        }
        for r in [
            "10.0.0.1:5000",
            "registry.example:5000",
            "docker.io",
            "[fe80::1]:5000",
            "localhost.evil",
        ] {
            assert!(!is_loopback_registry(r), "{r}");
        }
    }

    #[test]
    fn references_parse_or_name_the_input() {
        let r = parse_reference("127.0.0.1:5000/a/b:t").unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("127.0.0.1:5000", "a/b", Some("t"))
        );
        let err = parse_reference("UPPER/Case:x").unwrap_err();
        assert!(err.to_string().contains("UPPER/Case:x"));
    }
}
