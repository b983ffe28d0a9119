//! The crate graph follows the seams (ARCHITECTURE.md, "Crate graph"): read from `cargo
//! metadata`'s resolved dependency graph (normal dependencies, transitively), so an edge that
//! breaks a rule cannot come back unnoticed.

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Every package's name and the names of its normal (non-dev, non-build) dependencies.
struct Graph {
    deps: BTreeMap<String, BTreeSet<String>>,
    workspace: BTreeSet<String>,
}

impl Graph {
    fn load() -> Result<Graph> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        // The host's resolve only: other platforms' dependencies are not downloaded here.
        let host = host_triple(&cargo)?;
        let out = Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--offline"])
            .args(["--filter-platform", &host])
            .current_dir(root)
            .output()
            .context("running cargo metadata")?;
        anyhow::ensure!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout)?;
        let name_of: BTreeMap<String, String> = meta["packages"]
            .as_array()
            .context("packages")?
            .iter()
            .filter_map(|p| {
                Some((
                    p["id"].as_str()?.to_string(),
                    p["name"].as_str()?.to_string(),
                ))
            })
            .collect();
        let workspace = meta["workspace_members"]
            .as_array()
            .context("workspace_members")?
            .iter()
            .filter_map(|id| name_of.get(id.as_str()?).cloned())
            .collect();
        let mut deps = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().context("resolve")? {
            let Some(name) = node["id"].as_str().and_then(|id| name_of.get(id)) else {
                continue;
            };
            let normal: BTreeSet<String> = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
                })
                .filter_map(|d| name_of.get(d["pkg"].as_str()?).cloned())
                .collect();
            deps.entry(name.clone())
                .or_insert_with(BTreeSet::new)
                .extend(normal);
        }
        Ok(Graph { deps, workspace })
    }

    /// Everything `krate` links, transitively.
    fn reaches(&self, krate: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![krate.to_string()];
        while let Some(k) = todo.pop() {
            for d in self.deps.get(&k).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    }

    /// Which of `forbidden` `krate` links (transitively).
    fn violations(&self, krate: &str, forbidden: &[&str]) -> Vec<String> {
        let reached = self.reaches(krate);
        forbidden
            .iter()
            .filter(|f| reached.contains(**f))
            .map(|f| format!("{krate} -> {f}"))
            .collect()
    }

    /// The workspace crates that depend on `krate` directly.
    fn direct_users(&self, krate: &str) -> BTreeSet<String> {
        self.deps
            .iter()
            .filter(|(k, d)| self.workspace.contains(*k) && d.contains(krate))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// The host target triple, from `rustc -vV`.
fn host_triple(cargo: &str) -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| {
        std::path::Path::new(cargo)
            .with_file_name("rustc")
            .to_string_lossy()
            .into_owned()
    });
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .or_else(|_| Command::new("rustc").arg("-vV").output())
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("rustc -vV names no host")
}

const WIRE: &[&str] = &[
    "tonic",
    "prost",
    "slipway-proto",
    "slipway-tls",
    "slipway-dataplane",
    "quinn",
    "openraft",
];

#[test]
fn the_crates_follow_the_seams() -> Result<()> {
    let g = Graph::load()?;
    for krate in [
        "slipway-worker",
        "slipway-cache",
        "slipway-agent",
        "slipway-coordinator",
    ] {
        assert!(
            g.workspace.contains(krate),
            "{krate} is not a workspace crate"
        );
    }
    let mut broken = Vec::new();
    // Pure crates: no IO runtime, no wire, no Raft.
    for pure in ["slipway-graph", "slipway-frontend", "slipway-farm"] {
        broken.extend(g.violations(pure, &[WIRE, &["tokio"]].concat()));
    }
    // The engine knows no gRPC, TLS, data plane or Raft; the agent is its own crate.
    broken.extend(g.violations("slipway-worker", &[WIRE, &["slipway-agent"]].concat()));
    // The cache format: used by engine, coordinator and client; knows none of them.
    broken.extend(
        g.violations(
            "slipway-cache",
            &[
                WIRE,
                &["slipway-worker", "slipway-agent", "slipway-coordinator"],
            ]
            .concat(),
        ),
    );
    // The coordinator knows no engine and no agent.
    broken.extend(g.violations("slipway-coordinator", &["slipway-worker", "slipway-agent"]));
    // Only proto knows prost; only the coordinator (its raft module) knows openraft;
    // nothing depends on the CLI; of the workspace, only the CLI parses flags (clap).
    let only = |krate: &str, allowed: &[&str]| -> Vec<String> {
        g.direct_users(krate)
            .into_iter()
            .filter(|u| !allowed.contains(&u.as_str()))
            .map(|u| format!("{u} -> {krate} (only {allowed:?} may)"))
            .collect()
    };
    broken.extend(only("prost", &["slipway-proto"]));
    broken.extend(only("openraft", &["slipway-coordinator"]));
    broken.extend(only("slipway-cli", &[]));
    broken.extend(only("clap", &["slipway-cli"]));
    for user in ["slipway-worker", "slipway-coordinator", "slipway-cli"] {
        assert!(
            g.direct_users("slipway-cache").contains(user),
            "{user} should read the cache format through slipway-cache"
        );
    }
    assert!(
        broken.is_empty(),
        "crate edges against the seams:\n{}",
        broken.join("\n")
    );
    Ok(())
}

#[test]
fn the_check_sees_a_forbidden_edge() -> Result<()> {
    // The rules are not vacuous: known edges are found.
    let g = Graph::load()?;
    assert!(!g
        .violations("slipway-agent", &["tonic", "slipway-worker"])
        .is_empty());
    assert!(g.direct_users("prost").contains("slipway-proto"));
    assert!(!g
        .violations("slipway-cli", &["slipway-coordinator"])
        .is_empty());
    Ok(())
}
