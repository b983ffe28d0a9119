//! Entitlements: privileges a build must be granted explicitly (buildx's `--allow`), on top
//! of what its graph asks for. A worker grants one only when both the build asks for it and
//! the worker's own configuration allows it (buildkitd's `--allow-insecure-entitlement`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Entitlement {
    /// `network.host`: RUN steps in the host's network namespace.
    #[serde(rename = "network.host")]
    NetworkHost,
    /// `security.insecure`: `RUN --security=insecure` (all capabilities, no masked paths,
    /// writable /sys, devices allowed).
    #[serde(rename = "security.insecure")]
    SecurityInsecure,
}

impl Entitlement {
    pub fn as_str(self) -> &'static str {
        match self {
            Entitlement::NetworkHost => "network.host",
            Entitlement::SecurityInsecure => "security.insecure",
        }
    }
}

impl fmt::Display for Entitlement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entitlement name that is not one of [`Entitlement`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entitlement {name:?} (network.host or security.insecure)")]
pub struct UnknownEntitlement {
    pub name: String,
}

impl FromStr for Entitlement {
    type Err = UnknownEntitlement;
    fn from_str(s: &str) -> Result<Entitlement, UnknownEntitlement> {
        match s.trim() {
            "network.host" => Ok(Entitlement::NetworkHost),
            "security.insecure" => Ok(Entitlement::SecurityInsecure),
            other => Err(UnknownEntitlement {
                name: other.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for e in [Entitlement::NetworkHost, Entitlement::SecurityInsecure] {
            assert_eq!(e.as_str().parse::<Entitlement>(), Ok(e));
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.as_str())
            );
        }
        let err = "device".parse::<Entitlement>().unwrap_err();
        assert!(err.to_string().contains("\"device\""), "{err}");
    }
}
