//! Parsing `slipway build` flag values that are more than a string (pure; each error names
//! its flag).

use super::build_request::{NamedContextSource, SecretSource, SshSource};
use slipway_graph::{NetworkMode, Platform};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A refused flag value: `--secret: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct FlagError {
    pub flag: &'static str,
    pub message: String,
}

pub(crate) fn err(flag: &'static str, message: impl Into<String>) -> FlagError {
    FlagError {
        flag,
        message: message.into(),
    }
}

/// `KEY=VALUE` pairs; a bare `KEY` takes its value from `env` (skipped when unset), as
/// buildx's `--build-arg` does.
pub fn build_args(
    values: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, FlagError> {
    let mut out = BTreeMap::new();
    for v in values {
        match v.split_once('=') {
            Some(("", _)) => return Err(err("--build-arg", format!("{v:?}: empty name"))),
            Some((k, val)) => {
                out.insert(k.to_string(), val.to_string());
            }
            None if v.is_empty() => return Err(err("--build-arg", "empty value")),
            None => {
                if let Some(val) = env(v) {
                    out.insert(v.clone(), val);
                }
            }
        }
    }
    Ok(out)
}

/// `--label KEY=VALUE`.
pub fn labels(values: &[String]) -> Result<BTreeMap<String, String>, FlagError> {
    let mut out = BTreeMap::new();
    for v in values {
        match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => {
                out.insert(k.to_string(), val.to_string());
            }
            _ => return Err(err("--label", format!("{v:?}: expected KEY=VALUE"))),
        }
    }
    Ok(out)
}

/// `--platform` values (each may be a comma list), deduplicated in order.
pub fn platforms(values: &[String]) -> Result<Vec<Platform>, FlagError> {
    let mut out: Vec<Platform> = Vec::new();
    for p in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let parsed: Platform = p
            .parse()
            .map_err(|e| err("--platform", format!("{p:?}: {e}")))?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    Ok(out)
}

/// `--network default|none|host`.
pub fn network(value: &str) -> Result<NetworkMode, FlagError> {
    match value {
        "" | "default" | "sandbox" => Ok(NetworkMode::Sandbox),
        "none" => Ok(NetworkMode::None),
        "host" => Ok(NetworkMode::Host),
        other => Err(err(
            "--network",
            format!("unknown mode {other:?} (expected default, none or host)"),
        )),
    }
}

pub(crate) fn csv_fields(
    flag: &'static str,
    value: &str,
) -> Result<BTreeMap<String, String>, FlagError> {
    let mut out = BTreeMap::new();
    for f in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| err(flag, format!("{f:?}: expected key=value")))?;
        out.insert(k.trim().to_ascii_lowercase(), v.to_string());
    }
    Ok(out)
}

/// `--secret id=x,src=path | id=x,env=VAR | id=x,type=env` (buildx's forms; `source` is
/// `src`). With neither `src` nor `env`, the environment variable named `id` is used when it
/// is set.
pub fn secret(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, SecretSource), FlagError> {
    let f = csv_fields("--secret", value)?;
    for k in f.keys() {
        if !matches!(k.as_str(), "id" | "src" | "source" | "env" | "type") {
            return Err(err("--secret", format!("unknown key {k:?} in {value:?}")));
        }
    }
    let id = f
        .get("id")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| err("--secret", format!("{value:?}: id= is required")))?
        .clone();
    let src = f.get("src").or_else(|| f.get("source")).cloned();
    let var = f.get("env").cloned();
    let source = match f.get("type").map(String::as_str) {
        Some("file") => {
            SecretSource::File(PathBuf::from(src.ok_or_else(|| {
                err("--secret", format!("id={id}: type=file needs src="))
            })?))
        }
        Some("env") => SecretSource::Env(var.or(src).unwrap_or_else(|| id.clone())),
        Some(other) => {
            return Err(err(
                "--secret",
                format!("unknown type {other:?} (expected file or env)"),
            ))
        }
        None => match (src, var) {
            (Some(s), None) => SecretSource::File(PathBuf::from(s)),
            (None, Some(v)) => SecretSource::Env(v),
            (Some(_), Some(_)) => {
                return Err(err(
                    "--secret",
                    format!("id={id}: give src= or env=, not both"),
                ))
            }
            (None, None) if env(&id).is_some() => SecretSource::Env(id.clone()),
            (None, None) => {
                return Err(err(
                    "--secret",
                    format!("id={id}: give src=PATH or env=VAR"),
                ))
            }
        },
    };
    Ok((id, source))
}

/// `--ssh default | default=SOCKET | id=SOCKET`. `default` alone uses `$SSH_AUTH_SOCK`.
/// Only agent sockets are supported (not key files).
pub fn ssh(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, SshSource), FlagError> {
    let (id, path) = match value.split_once('=') {
        Some((id, path)) => (id.to_string(), path.to_string()),
        None => (
            value.to_string(),
            env("SSH_AUTH_SOCK").ok_or_else(|| {
                err(
                    "--ssh",
                    format!("{value}: SSH_AUTH_SOCK is not set; give {value}=SOCKET"),
                )
            })?,
        ),
    };
    if id.is_empty() || path.is_empty() {
        return Err(err(
            "--ssh",
            format!("{value:?}: expected default or ID=SOCKET"),
        ));
    }
    if path.contains(',') {
        return Err(err(
            "--ssh",
            format!("{value:?}: only one agent socket per id is supported"),
        ));
    }
    if !is_socket(Path::new(&path)) {
        return Err(err(
            "--ssh",
            format!("{id}={path}: not an ssh-agent socket (key files are not supported; run ssh-agent and pass its socket)"),
        ));
    }
    Ok((id, SshSource::AgentSocket(PathBuf::from(path))))
}

fn is_socket(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

/// `--build-context name=DIR | name=docker-image://REF`.
pub fn build_context(value: &str) -> Result<(String, NamedContextSource), FlagError> {
    let (name, v) = value
        .split_once('=')
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| err("--build-context", format!("{value:?}: expected NAME=VALUE")))?;
    if let Some(r) = v.strip_prefix("docker-image://") {
        return Ok((name.to_string(), NamedContextSource::Image(r.to_string())));
    }
    for scheme in [
        "oci-layout://",
        "target:",
        "https://",
        "http://",
        "git@",
        "input:",
    ] {
        if v.starts_with(scheme) {
            return Err(err(
                "--build-context",
                format!("{name}={v}: {scheme} contexts are not supported yet (use a directory or docker-image://)"),
            ));
        }
    }
    let dir = PathBuf::from(v);
    if !dir.is_dir() {
        return Err(err(
            "--build-context",
            format!("{name}={v}: not a directory"),
        ));
    }
    Ok((name.to_string(), NamedContextSource::Dir(dir)))
}

/// Entitlement names given to `flag` (each value may list several, comma separated).
pub fn entitlements(
    flag: &'static str,
    values: &[String],
) -> Result<std::collections::BTreeSet<slipway_graph::Entitlement>, FlagError> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.parse().map_err(|e| err(flag, format!("{e}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "FROM_ENV" => Some("e".into()),
            "SSH_AUTH_SOCK" => None,
            _ => None,
        }
    }

    #[test]
    fn build_args_and_labels() {
        let a = build_args(
            &[
                "A=1".into(),
                "B=".into(),
                "FROM_ENV".into(),
                "UNSET".into(),
                "C=x=y".into(),
            ],
            &env,
        )
        .unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(
            (
                a["A"].as_str(),
                a["B"].as_str(),
                a["FROM_ENV"].as_str(),
                a["C"].as_str()
            ),
            ("1", "", "e", "x=y")
        );
        assert!(build_args(&["=1".into()], &env)
            .unwrap_err()
            .to_string()
            .starts_with("--build-arg: "));
        assert_eq!(labels(&["a=b".into()]).unwrap()["a"], "b");
        assert!(labels(&["ab".into()])
            .unwrap_err()
            .to_string()
            .starts_with("--label: "));
    }

    #[test]
    fn platforms_and_network() {
        let p = platforms(&[
            "linux/amd64,linux/arm64".into(),
            "linux/arm/v7".into(),
            "linux/amd64".into(),
        ])
        .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].to_string(), "linux/arm/v7");
        assert!(platforms(&["linux/amd64/x/y".into()])
            .unwrap_err()
            .to_string()
            .starts_with("--platform: "));
        assert_eq!(network("none").unwrap(), NetworkMode::None);
        assert_eq!(network("default").unwrap(), NetworkMode::Sandbox);
        assert_eq!(
            network("bridge").unwrap_err().to_string(),
            "--network: unknown mode \"bridge\" (expected default, none or host)"
        );
    }

    #[test]
    fn secrets() {
        assert_eq!(
            secret("id=a,src=/x", &env).unwrap(),
            ("a".into(), SecretSource::File("/x".into()))
        );
        assert_eq!(
            secret("id=a,source=/x,type=file", &env).unwrap().1,
            SecretSource::File("/x".into())
        );
        assert_eq!(
            secret("id=a,env=V", &env).unwrap().1,
            SecretSource::Env("V".into())
        );
        assert_eq!(
            secret("id=TOK,type=env", &env).unwrap().1,
            SecretSource::Env("TOK".into())
        );
        assert_eq!(
            secret("id=FROM_ENV", &env).unwrap().1,
            SecretSource::Env("FROM_ENV".into())
        );
        for (bad, want) in [
            ("src=/x", "id= is required"),
            ("id=a", "give src=PATH or env=VAR"),
            ("id=a,type=file", "type=file needs src="),
            ("id=a,type=ssh", "unknown type"),
            ("id=a,src=/x,env=V", "not both"),
            ("id=a,mode=0400", "unknown key"),
            ("id=a,junk", "expected key=value"),
        ] {
            let e = secret(bad, &env).unwrap_err().to_string();
            assert!(
                e.starts_with("--secret: ") && e.contains(want),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn ssh_needs_a_socket() {
        let e = ssh("default", &env).unwrap_err().to_string();
        assert!(e.contains("SSH_AUTH_SOCK is not set"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("agent.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let v = format!("default={}", sock.display());
        assert_eq!(
            ssh(&v, &env).unwrap(),
            ("default".into(), SshSource::AgentSocket(sock.clone()))
        );
        let file = dir.path().join("id_rsa");
        std::fs::write(&file, "key").unwrap();
        let e = ssh(&format!("k={}", file.display()), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an ssh-agent socket"), "{e}");
    }

    #[test]
    fn build_contexts() {
        let dir = tempfile::tempdir().unwrap();
        let v = format!("src={}", dir.path().display());
        assert_eq!(
            build_context(&v).unwrap(),
            ("src".into(), NamedContextSource::Dir(dir.path().into()))
        );
        assert_eq!(
            build_context("base=docker-image://alpine:3.20").unwrap(),
            (
                "base".into(),
                NamedContextSource::Image("alpine:3.20".into())
            )
        );
        assert!(build_context("x=/does/not/exist")
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
        assert!(build_context("x=oci-layout://foo")
            .unwrap_err()
            .to_string()
            .contains("not supported yet"));
        assert!(build_context("novalue")
            .unwrap_err()
            .to_string()
            .starts_with("--build-context: "));
    }
}
