//! What a lowering is asked to produce: [`LowerOptions`].

use slipway_graph::Platform;
use std::collections::BTreeMap;

use super::reference::normalize_reference;

/// Where a named build context (`--build-context name=...`) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A container image (`docker-image://ref`), e.g. `alpine:3.20`.
    Image(String),
    /// A directory the client serves under this local name.
    Local(String),
}

/// Options of one lowering. `Default` is a single-platform build for the machine's own
/// platform, of the last stage, with no build args.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerOptions {
    /// Platforms to build for; empty means [`LowerOptions::build_platform`] (an implicit
    /// target, as BuildKit's).
    pub platforms: Vec<Platform>,
    /// The platform the build runs on (`BUILDPLATFORM`).
    pub build_platform: Platform,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// The stage to build; empty means the last one.
    pub target: String,
    /// `--build-context` entries by name.
    pub named_contexts: BTreeMap<String, NamedContext>,
    /// The Dockerfile's name, for error messages (`Dockerfile:12: ...`).
    pub dockerfile_name: String,
    /// `SOURCE_DATE_EPOCH` (unix seconds); a `SOURCE_DATE_EPOCH` build arg takes precedence.
    pub source_date_epoch: Option<i64>,
    /// `.dockerignore` patterns, passed on to the build-context source.
    pub context_excludes: Vec<String>,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions {
            platforms: Vec::new(),
            build_platform: Platform::host(),
            build_args: BTreeMap::new(),
            target: String::new(),
            named_contexts: BTreeMap::new(),
            dockerfile_name: "Dockerfile".to_string(),
            source_date_epoch: None,
            context_excludes: Vec::new(),
        }
    }
}

/// Why options were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("platform {platform} is requested twice")]
    DuplicatePlatform { platform: String },
    #[error("platform {platform}: only linux (and other unix) targets are supported; windows images are not")]
    WindowsNotSupported { platform: String },
    #[error("named context {name:?}: a context name must be non-empty, without whitespace")]
    InvalidContextName { name: String },
    #[error("named context {name:?}: invalid image reference {reference:?}: {reason}")]
    InvalidContextImage {
        name: String,
        reference: String,
        reason: String,
    },
    #[error("named context {name:?}: the local context name must not be empty")]
    EmptyLocalName { name: String },
    #[error("build arg name must not be empty")]
    EmptyBuildArgName,
}

impl LowerOptions {
    /// The platforms each output is lowered for, in request order.
    pub fn target_platforms(&self) -> Vec<Platform> {
        if self.platforms.is_empty() {
            vec![self.build_platform.clone()]
        } else {
            self.platforms.clone()
        }
    }

    /// True when the target platform was not given (BuildKit's implicit target).
    pub fn implicit_target(&self) -> bool {
        self.platforms.is_empty()
    }

    pub fn validate(&self) -> Result<(), OptionsError> {
        let mut seen = Vec::new();
        for p in self
            .target_platforms()
            .iter()
            .chain(std::iter::once(&self.build_platform))
        {
            if p.os == "windows" {
                return Err(OptionsError::WindowsNotSupported {
                    platform: p.to_string(),
                });
            }
        }
        for p in &self.platforms {
            if seen.contains(&p) {
                return Err(OptionsError::DuplicatePlatform {
                    platform: p.to_string(),
                });
            }
            seen.push(p);
        }
        if self.build_args.keys().any(String::is_empty) {
            return Err(OptionsError::EmptyBuildArgName);
        }
        for (name, ctx) in &self.named_contexts {
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                return Err(OptionsError::InvalidContextName { name: name.clone() });
            }
            match ctx {
                NamedContext::Image(reference) => {
                    if let Err(e) = normalize_reference(reference) {
                        return Err(OptionsError::InvalidContextImage {
                            name: name.clone(),
                            reference: reference.clone(),
                            reason: e.to_string(),
                        });
                    }
                }
                NamedContext::Local(local) if local.is_empty() => {
                    return Err(OptionsError::EmptyLocalName { name: name.clone() })
                }
                NamedContext::Local(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_implicit() {
        let o = LowerOptions::default();
        o.validate().unwrap();
        assert!(o.implicit_target());
        assert_eq!(o.target_platforms(), vec![o.build_platform.clone()]);
    }

    #[test]
    fn refusals() {
        let arm: Platform = "linux/arm64".parse().unwrap();
        let o = LowerOptions {
            platforms: vec![arm.clone(), arm],
            ..Default::default()
        };
        assert!(matches!(
            o.validate(),
            Err(OptionsError::DuplicatePlatform { .. })
        ));
        let o = LowerOptions {
            platforms: vec!["windows/amd64".parse().unwrap()],
            ..Default::default()
        };
        assert!(matches!(
            o.validate(),
            Err(OptionsError::WindowsNotSupported { .. })
        ));
        let mut o = LowerOptions::default();
        o.named_contexts
            .insert("base".into(), NamedContext::Image("UPPER:case".into()));
        assert!(matches!(
            o.validate(),
            Err(OptionsError::InvalidContextImage { .. })
        ));
        let mut o = LowerOptions::default();
        o.named_contexts
            .insert("src".into(), NamedContext::Local(String::new()));
        assert!(matches!(
            o.validate(),
            Err(OptionsError::EmptyLocalName { .. })
        ));
    }
}
