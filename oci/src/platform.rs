//! Conversions between [`slipway_graph::Platform`] and oci-spec's platform, and containerd's
//! `platforms.Only` matcher: pick a platform's manifest from an index.
//!
//! `Only(p)` accepts `p` itself, then, in order of preference: for `amd64/vN` the lower `amd64`
//! variants and `386`; for `arm/vN` the lower `arm` variants down to `v5`; for `arm64[/v8.x|v9.x]`
//! the lower arm64 variants (v9.x also takes v8.{x+5}), then `arm/v8` down to `arm/v5`.

use oci_spec::image::{Arch, Descriptor, ImageIndex, Os, Platform as OciPlatform};
use slipway_graph::Platform;

/// Why an oci-spec platform could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PlatformConvError {
    #[error("cannot build an OCI platform for {platform}: {source}")]
    Build {
        platform: String,
        source: oci_spec::OciSpecError,
    },
}

pub fn to_oci(p: &Platform) -> Result<OciPlatform, PlatformConvError> {
    let mut b = oci_spec::image::PlatformBuilder::default()
        .os(Os::from(p.os.as_str()))
        .architecture(Arch::from(p.architecture.as_str()));
    if !p.variant.is_empty() {
        b = b.variant(p.variant.clone());
    }
    b.build().map_err(|source| PlatformConvError::Build {
        platform: p.to_string(),
        source,
    })
}

/// Normalises an oci-spec platform (so `arm64/v8` == `arm64`, `arm` == `arm/v7`).
pub fn from_oci(p: &OciPlatform) -> Platform {
    Platform::new(
        &p.os().to_string(),
        &p.architecture().to_string(),
        p.variant().as_deref().unwrap_or(""),
    )
}

/// containerd's `platforms.Only`: the ordered list of platforms an image for `p` may be run from.
pub fn compatible(p: &Platform) -> Vec<Platform> {
    let mut out = vec![p.clone()];
    let with = |arch: &str, variant: String| Platform {
        os: p.os.clone(),
        architecture: arch.to_string(),
        variant,
    };
    match p.architecture.as_str() {
        "amd64" => {
            if let Some(v) = version(&p.variant).filter(|v| *v > 1) {
                for lower in (1..v).rev() {
                    let variant = if lower == 1 {
                        String::new()
                    } else {
                        format!("v{lower}")
                    };
                    out.push(with("amd64", variant));
                }
            }
            out.push(with("386", String::new()));
        }
        "arm" => arm_lower(p, &mut out),
        "arm64" => {
            let variant = if p.variant.is_empty() {
                "v8".to_string()
            } else {
                p.variant.clone()
            };
            let (major, minor) = match variant.trim_start_matches('v').split_once('.') {
                Some((a, b)) => (a.parse::<u32>().ok(), b.parse::<u32>().unwrap_or(0)),
                None => (variant.trim_start_matches('v').parse::<u32>().ok(), 0),
            };
            if let Some(mut major) = major.filter(|m| *m >= 8) {
                let mut minor = minor;
                let name = |maj: u32, min: u32| match (maj, min) {
                    (8, 0) => String::new(),
                    (m, 0) => format!("v{m}"),
                    (m, n) => format!("v{m}.{n}"),
                };
                if major == 9 {
                    for m in (0..minor).rev() {
                        out.push(with("arm64", name(9, m)));
                    }
                    minor = (minor + 5).min(9);
                    major = 8;
                    out.push(with("arm64", name(8, minor)));
                }
                for m in (0..minor).rev() {
                    out.push(with("arm64", name(major, m)));
                }
            }
            let arm = Platform {
                os: p.os.clone(),
                architecture: "arm".into(),
                variant: "v8".into(),
            };
            out.push(arm.clone());
            arm_lower(&arm, &mut out);
        }
        _ => {}
    }
    out
}

fn arm_lower(p: &Platform, out: &mut Vec<Platform>) {
    if let Some(v) = version(&p.variant).filter(|v| *v > 5) {
        for lower in (5..v).rev() {
            out.push(Platform {
                os: p.os.clone(),
                architecture: "arm".into(),
                variant: format!("v{lower}"),
            });
        }
    }
}

fn version(variant: &str) -> Option<u32> {
    variant.strip_prefix('v').and_then(|v| v.parse().ok())
}

/// Picks the manifest for `want` from `index`: an exact (normalised) match first, then the
/// best compatible one in containerd's order. Descriptors without a platform never match.
pub fn select_manifest<'a>(index: &'a ImageIndex, want: &Platform) -> Option<&'a Descriptor> {
    select_from(index.manifests(), want)
}

pub fn select_from<'a>(manifests: &'a [Descriptor], want: &Platform) -> Option<&'a Descriptor> {
    compatible(want).iter().find_map(|candidate| {
        manifests
            .iter()
            .find(|d| d.platform().as_ref().map(from_oci).as_ref() == Some(candidate))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{DescriptorBuilder, ImageIndexBuilder, MediaType};

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    fn index(platforms: &[&str]) -> ImageIndex {
        let manifests = platforms
            .iter()
            .enumerate()
            .map(|(i, s)| {
                DescriptorBuilder::default()
                    .media_type(MediaType::ImageManifest)
                    .size(i as u64)
                    .digest(crate::Digest::of(s.as_bytes()).to_oci())
                    .platform(to_oci(&p(s)).unwrap())
                    .build()
                    .unwrap()
            })
            .collect::<Vec<_>>();
        ImageIndexBuilder::default()
            .schema_version(2u32)
            .manifests(manifests)
            .build()
            .unwrap()
    }

    #[test]
    fn round_trips_through_oci() {
        for s in [
            "linux/amd64",
            "linux/arm/v7",
            "linux/arm64",
            "linux/arm64/v8.2",
            "windows/amd64",
        ] {
            assert_eq!(from_oci(&to_oci(&p(s)).unwrap()), p(s));
        }
    }

    #[test]
    fn compat_vectors_follow_containerd() {
        let names = |s: &str| {
            compatible(&p(s))
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("linux/amd64"), ["linux/amd64", "linux/386"]);
        assert_eq!(
            names("linux/amd64/v3"),
            [
                "linux/amd64/v3",
                "linux/amd64/v2",
                "linux/amd64",
                "linux/386"
            ]
        );
        assert_eq!(
            names("linux/arm/v7"),
            ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]
        );
        assert_eq!(names("linux/arm/v5"), ["linux/arm/v5"]);
        assert_eq!(
            names("linux/arm64"),
            [
                "linux/arm64",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ]
        );
        assert_eq!(
            names("linux/arm64/v8.2")[..4],
            [
                "linux/arm64/v8.2",
                "linux/arm64/v8.1",
                "linux/arm64",
                "linux/arm/v8"
            ]
        );
        assert_eq!(
            names("linux/arm64/v9.1")[..3],
            ["linux/arm64/v9.1", "linux/arm64/v9", "linux/arm64/v8.6"]
        );
    }

    #[test]
    fn selects_exact_then_compatible() {
        let idx = index(&["linux/arm/v6", "linux/arm/v7", "linux/amd64"]);
        let pick = |s: &str| {
            select_manifest(&idx, &p(s)).map(|d| from_oci(d.platform().as_ref().unwrap()))
        };
        assert_eq!(pick("linux/arm/v7"), Some(p("linux/arm/v7")));
        assert_eq!(pick("linux/arm/v8"), Some(p("linux/arm/v7")));
        assert_eq!(pick("linux/arm64/v8"), Some(p("linux/arm/v7")));
        assert_eq!(pick("linux/arm/v5"), None);
        assert_eq!(pick("linux/s390x"), None);
        let only_v6 = index(&["linux/arm/v6"]);
        assert!(select_manifest(&only_v6, &p("linux/arm/v7")).is_some());
    }
}
