//! Platforms (`os/arch[/variant]`) with containerd's normalisation rules, used wherever two
//! platforms are compared: `arm64` ⇔ `arm64/v8`, `arm` ⇔ `arm/v7`, `aarch64` ⇔ `arm64`,
//! `x86_64` ⇔ `amd64`, `armhf` ⇔ `arm/v7`, `armel` ⇔ `arm/v6`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A normalised platform. Construct through [`Platform::new`] or [`FromStr`] so that the
/// fields are always in canonical form and `==` is containerd's match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    /// Empty when the architecture has no variant (or has its default one, e.g. arm64's v8).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// Why a platform string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("invalid platform {input:?}: expected os/arch[/variant]")]
    Shape { input: String },
    #[error("invalid platform {input:?}: unknown operating system {os:?}")]
    UnknownOs { input: String, os: String },
    #[error("invalid platform {input:?}: unknown architecture {arch:?}")]
    UnknownArch { input: String, arch: String },
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "illumos",
    "ios",
    "js",
    "linux",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
];

const KNOWN_ARCH: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64",
    "ppc64le", "riscv64", "s390x", "wasm",
];

impl Platform {
    /// Normalise `os`, `arch`, `variant` as containerd's `platforms.Normalize` does.
    pub fn new(os: &str, arch: &str, variant: &str) -> Platform {
        let os = match os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        let (architecture, variant) = normalize_arch(arch, variant);
        Platform {
            os,
            architecture,
            variant,
        }
    }

    pub fn linux(arch: &str, variant: &str) -> Platform {
        Platform::new("linux", arch, variant)
    }

    /// The platform of the machine this code runs on.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "arm" => "arm",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform::new(std::env::consts::OS, arch, "")
    }

    /// The variant as the `TARGETVARIANT` build arg and image configs spell it: arm64 reports
    /// no variant, arm reports `v7` and friends.
    pub fn variant(&self) -> &str {
        &self.variant
    }

    /// `uname -m` inside a container of this platform (for tests and emulator lookups).
    pub fn uname_machine(&self) -> Option<&'static str> {
        Some(match (self.architecture.as_str(), self.variant.as_str()) {
            ("amd64", _) => "x86_64",
            ("arm64", _) => "aarch64",
            ("arm", "v7") => "armv7l",
            ("arm", "v6") => "armv6l",
            ("arm", "v5") => "armv5tel",
            ("386", _) => "i686",
            ("ppc64le", _) => "ppc64le",
            ("s390x", _) => "s390x",
            ("riscv64", _) => "riscv64",
            _ => return None,
        })
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" | "i486" | "i586" | "i686" | "386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" | "" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                other => other.to_string(),
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                other => other.to_string(),
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    /// Parses `os/arch[/variant]`; a lone architecture (`arm64`) means `linux/arm64`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = s.trim();
        let parts: Vec<&str> = input.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(PlatformError::Shape {
                input: s.to_string(),
            });
        }
        let (os, arch, variant) = match parts.as_slice() {
            [one] => ("linux", *one, ""),
            [os, arch] => (*os, *arch, ""),
            [os, arch, variant] => (*os, *arch, *variant),
            _ => {
                return Err(PlatformError::Shape {
                    input: s.to_string(),
                })
            }
        };
        let p = Platform::new(os, arch, variant);
        if !KNOWN_OS.contains(&p.os.as_str()) {
            return Err(PlatformError::UnknownOs {
                input: s.to_string(),
                os: os.to_string(),
            });
        }
        if !KNOWN_ARCH.contains(&p.architecture.as_str()) {
            return Err(PlatformError::UnknownArch {
                input: s.to_string(),
                arch: arch.to_string(),
            });
        }
        Ok(p)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn containerd_equivalences() {
        assert_eq!(p("linux/arm64"), p("linux/arm64/v8"));
        assert_eq!(p("linux/aarch64"), p("linux/arm64"));
        assert_eq!(p("linux/arm"), p("linux/arm/v7"));
        assert_eq!(p("linux/armhf"), p("linux/arm/v7"));
        assert_eq!(p("linux/x86_64"), p("linux/amd64"));
        assert_eq!(p("arm64"), p("linux/arm64"));
        assert_ne!(p("linux/arm/v6"), p("linux/arm/v7"));
        assert_ne!(p("linux/amd64"), p("linux/arm64"));
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(p("linux/arm").to_string(), "linux/arm/v7");
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64");
        assert_eq!(p("Linux/AMD64").to_string(), "linux/amd64");
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(matches!(
            "".parse::<Platform>(),
            Err(PlatformError::Shape { .. })
        ));
        assert!(matches!(
            "linux//arm".parse::<Platform>(),
            Err(PlatformError::Shape { .. })
        ));
        assert!(matches!(
            "a/b/c/d".parse::<Platform>(),
            Err(PlatformError::Shape { .. })
        ));
        assert!(matches!(
            "linux/z80".parse::<Platform>(),
            Err(PlatformError::UnknownArch { .. })
        ));
        assert!(matches!(
            "beos/amd64".parse::<Platform>(),
            Err(PlatformError::UnknownOs { .. })
        ));
    }

    #[test]
    fn uname() {
        assert_eq!(p("linux/arm/v7").uname_machine(), Some("armv7l"));
        assert_eq!(p("linux/arm64").uname_machine(), Some("aarch64"));
    }
}
