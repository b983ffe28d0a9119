//! Global (meta) args: the automatic platform args, `TARGETSTAGE`, and the ARGs before the
//! first FROM with `--build-arg` overrides (BuildKit's `defaultArgs` + `buildMetaArgs`).

use crate::instructions::ArgCommand;
use crate::shell::Lexer;
use slipway_graph::Platform;
use std::collections::BTreeMap;

use super::env::EnvList;
use super::error::{LowerError, LowerErrorKind};

/// The automatic args for one (build platform, target platform, target stage).
pub fn default_args(
    build: &Platform,
    target: &Platform,
    target_stage: &str,
    overrides: &BTreeMap<String, String>,
) -> EnvList {
    let stage = if target_stage.is_empty() {
        "default"
    } else {
        target_stage
    };
    let pairs = [
        ("BUILDPLATFORM", format_platform(build)),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", build.architecture.clone()),
        ("BUILDVARIANT", build.variant.clone()),
        ("TARGETPLATFORM", target.to_string()),
        ("TARGETOS", target.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", target.architecture.clone()),
        ("TARGETVARIANT", target.variant.clone()),
        ("TARGETSTAGE", stage.to_string()),
    ];
    let mut env = EnvList::new();
    for (k, v) in pairs {
        let v = overrides.get(k).cloned().unwrap_or(v);
        env.set(k, &v);
    }
    env
}

/// `platforms.Format`: `os/arch[/variant]` (our platforms are already normalised).
pub fn format_platform(p: &Platform) -> String {
    p.to_string()
}

/// Applies the meta ARGs in order: a `--build-arg` wins, else the default expanded with the
/// args so far; an ARG with neither stays unset.
pub fn apply_meta_args(
    mut args: EnvList,
    lexer: &Lexer,
    meta: &[ArgCommand],
    build_args: &BTreeMap<String, String>,
) -> Result<EnvList, LowerError> {
    for cmd in meta {
        for pair in &cmd.args {
            let value = match (build_args.get(&pair.key), &pair.value) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(default)) => Some(
                    lexer
                        .process_word(default, &args)
                        .map_err(|source| {
                            LowerError::at(cmd.location, LowerErrorKind::Expand { source })
                        })?
                        .result,
                ),
                (None, None) => None,
            };
            if let Some(v) = value {
                args.set(&pair.key, &v);
            }
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_args() {
        let build: Platform = "linux/amd64".parse().unwrap();
        let target: Platform = "linux/arm/v7".parse().unwrap();
        let env = default_args(&build, &target, "", &BTreeMap::new());
        assert_eq!(env.get("BUILDPLATFORM"), Some("linux/amd64"));
        assert_eq!(env.get("TARGETPLATFORM"), Some("linux/arm/v7"));
        assert_eq!(env.get("TARGETARCH"), Some("arm"));
        assert_eq!(env.get("TARGETVARIANT"), Some("v7"));
        assert_eq!(env.get("TARGETSTAGE"), Some("default"));
        let mut o = BTreeMap::new();
        o.insert("TARGETARCH".to_string(), "riscv64".to_string());
        assert_eq!(
            default_args(&build, &target, "x", &o).get("TARGETARCH"),
            Some("riscv64")
        );
    }
}
