//! Comparing slipway's image with a peer's: root filesystem entries and image config fields.

use crate::case::Peer;
use crate::exclusions::{for_peer, Exclusion, Rule};
use crate::tree::{Entry, Kind, Tree};
use serde_json::Value;
use std::fmt;

/// The image config fields compared.
pub const CONFIG_FIELDS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
];

pub struct Side<'a> {
    pub tree: &'a Tree,
    pub config: &'a Value,
}

#[derive(Debug)]
pub enum Difference {
    OnlyOurs {
        path: String,
        entry: Entry,
    },
    OnlyPeer {
        path: String,
        entry: Entry,
    },
    Entry {
        path: String,
        ours: Entry,
        peer: Entry,
    },
    Config {
        field: String,
        ours: Value,
        peer: Value,
    },
}

pub struct Outcome {
    pub differences: Vec<Difference>,
    /// What was left out, with the exclusion's reason (for the log).
    pub excluded: Vec<String>,
}

pub struct Report<'a> {
    pub peer: Peer,
    pub differences: &'a [Difference],
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.peer.name();
        for d in self.differences {
            match d {
                Difference::OnlyOurs { path, entry } => {
                    writeln!(f, "  only in slipway: {path}  ({entry})")?
                }
                Difference::OnlyPeer { path, entry } => {
                    writeln!(f, "  only in {p}: {path}  ({entry})")?
                }
                Difference::Entry { path, ours, peer } => {
                    writeln!(f, "  {path}:\n    slipway: {ours}\n    {p:7}: {peer}")?
                }
                Difference::Config { field, ours, peer } => writeln!(
                    f,
                    "  config {field}:\n    slipway: {ours}\n    {p:7}: {peer}"
                )?,
            }
        }
        Ok(())
    }
}

/// Compares `ours` with `peer`'s output; `mount_targets` are the case's RUN --mount targets.
pub fn compare(ours: Side<'_>, theirs: Side<'_>, peer: Peer, mount_targets: &[String]) -> Outcome {
    let rules: Vec<&Exclusion> = for_peer(peer).collect();
    let mut out = Outcome {
        differences: Vec::new(),
        excluded: Vec::new(),
    };
    for (path, entry) in ours.tree {
        match theirs.tree.get(path) {
            None => out.differences.push(Difference::OnlyOurs {
                path: path.clone(),
                entry: entry.clone(),
            }),
            Some(p) if !same_entry(entry, p) => out.differences.push(Difference::Entry {
                path: path.clone(),
                ours: entry.clone(),
                peer: p.clone(),
            }),
            Some(_) => {}
        }
    }
    for (path, entry) in theirs.tree {
        if ours.tree.contains_key(path) {
            continue;
        }
        match rules
            .iter()
            .find(|r| peer_only_excluded(r.rule, path, entry, mount_targets))
        {
            Some(r) => out.excluded.push(format!("{path}: {}", r.reason)),
            None => out.differences.push(Difference::OnlyPeer {
                path: path.clone(),
                entry: entry.clone(),
            }),
        }
    }
    for field in CONFIG_FIELDS {
        let a = normalized(ours.config.get(*field));
        let mut b = normalized(theirs.config.get(*field));
        if rules
            .iter()
            .any(|r| matches!(r.rule, Rule::ConfigField(f) if f == *field))
        {
            if a != b {
                out.excluded
                    .push(format!("config {field}: not carried by {}", peer.name()));
            }
            continue;
        }
        if *field == "Labels" {
            for r in &rules {
                if let Rule::PeerLabel(key) = r.rule {
                    if strip_label(&mut b, key) {
                        out.excluded.push(format!("label {key}: {}", r.reason));
                    }
                }
            }
            b = normalized(Some(&b));
        }
        if a != b {
            out.differences.push(Difference::Config {
                field: field.to_string(),
                ours: a,
                peer: b,
            });
        }
    }
    out
}

/// Directories compare by type, mode and owner (their emptiness is covered by their children).
fn same_entry(a: &Entry, b: &Entry) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Dir { .. }, Kind::Dir { .. }) => {
            a.mode == b.mode && a.uid == b.uid && a.gid == b.gid
        }
        _ => a == b,
    }
}

fn peer_only_excluded(rule: Rule, path: &str, entry: &Entry, mount_targets: &[String]) -> bool {
    let stubby = matches!(entry.kind, Kind::Dir { .. }) || entry.is_empty_stub();
    match rule {
        Rule::PeerOnlyStub(p) => p == path && stubby,
        Rule::PeerOnlyMountStub => mount_targets.iter().any(|t| {
            (t == path && entry.is_empty_stub())
                || (matches!(entry.kind, Kind::Dir { .. }) && t.starts_with(&format!("{path}/")))
        }),
        Rule::PeerLabel(_) | Rule::ConfigField(_) => false,
    }
}

fn strip_label(labels: &mut Value, key: &str) -> bool {
    labels
        .as_object_mut()
        .is_some_and(|m| m.remove(key).is_some())
}

/// Absent, null, "", [] and {} are all "not set".
fn normalized(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(Value::Array(a)) if a.is_empty() => Value::Null,
        Some(Value::Object(o)) if o.is_empty() => Value::Null,
        Some(v) => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64) -> Entry {
        Entry {
            kind: Kind::File {
                size,
                sha256: "00".repeat(32),
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }

    #[test]
    fn peer_only_mount_stub_is_excluded_but_content_is_not() {
        let ours = Tree::new();
        let mut theirs = Tree::new();
        theirs.insert(
            "/cache".into(),
            Entry {
                kind: Kind::Dir { empty: true },
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
        );
        theirs.insert("/data".into(), file(3));
        let null = Value::Null;
        let out = compare(
            Side {
                tree: &ours,
                config: &null,
            },
            Side {
                tree: &theirs,
                config: &null,
            },
            Peer::Docker,
            &["/cache".to_string()],
        );
        assert_eq!(out.excluded.len(), 1);
        assert!(
            matches!(&out.differences[..], [Difference::OnlyPeer { path, .. }] if path == "/data")
        );
    }

    #[test]
    fn buildah_version_label_is_excluded_other_labels_are_not() {
        let t = Tree::new();
        let ours = serde_json::json!({"Labels": {"a": "1"}});
        let theirs = serde_json::json!({"Labels": {"a": "2", "io.buildah.version": "1.28.2"}});
        let out = compare(
            Side {
                tree: &t,
                config: &ours,
            },
            Side {
                tree: &t,
                config: &theirs,
            },
            Peer::Buildah,
            &[],
        );
        assert_eq!(out.differences.len(), 1);
        let theirs = serde_json::json!({"Labels": {"a": "1", "io.buildah.version": "1.28.2"}});
        let out = compare(
            Side {
                tree: &t,
                config: &ours,
            },
            Side {
                tree: &t,
                config: &theirs,
            },
            Peer::Buildah,
            &[],
        );
        assert!(out.differences.is_empty());
    }
}
