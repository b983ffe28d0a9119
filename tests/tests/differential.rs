//! Differential tests: every case in tests/differential is built by a peer (dockerd 20.10's
//! BuildKit or buildah 1.28) and by slipway in both of its modes, embedded (no `--builder`)
//! and on a real farm (one `slipway coordinator` and one `slipway worker` started for the
//! whole run, `--builder`); the root filesystem and image config of each slipway image must
//! match the peer's except for the documented peer behaviour in `exclusions::EXCLUSIONS`.
//!
//! Needs root, runc, docker-registry, skopeo, umoci, dockerd/docker (docker.io), buildah,
//! ssh-agent (scripts/setup.sh installs them). A peer that cannot run fails the test with the
//! reason.
//! `SLIPWAY_BIN` selects the binary (default: cargo builds slipway-cli); `SLIPWAY_DIFF_CASES=a,b`
//! runs only those cases.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use slipway_e2e::builders::buildah::Buildah;
use slipway_e2e::builders::dockerd::Dockerd;
use slipway_e2e::builders::slipway::{Mode, Slipway};
use slipway_e2e::builders::BuildRequest;
use slipway_e2e::case::{load_corpus, Case, Peer};
use slipway_e2e::cluster::{Cluster, ClusterOptions};
use slipway_e2e::compare::{compare, Report, Side};
use slipway_e2e::image::unpack;
use slipway_e2e::process::run;
use slipway_e2e::registry::Registry;
use slipway_e2e::sshagent::SshAgent;
use slipway_e2e::tree::snapshot;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Worker slots of the run's farm: a multi-stage case may be split into stage tasks.
const FARM_SLOTS: u32 = 2;

/// Everything one run builds with: the registry, the peers, and slipway's two modes.
struct Builders {
    /// The farm `modes[1]` builds on; dropped first (its worker pulls from the registry).
    _farm: Cluster,
    modes: [Mode; 2],
    registry: Registry,
    slipway: Slipway,
    docker: Dockerd,
    buildah: Buildah,
    ssh: SshAgent,
}

/// How one slipway mode fared on a case.
struct ModeOutcome {
    mode: &'static str,
    elapsed: Duration,
    result: Result<Vec<String>>,
}

impl Builders {
    fn start() -> Result<Builders> {
        let registry = Registry::start().context("starting docker-registry")?;
        let slipway = Slipway::locate(registry.addr()).context("locating slipway")?;
        let docker =
            Dockerd::start(registry.addr()).context("peer dockerd 20.10 cannot run here")?;
        let buildah = Buildah::new().context("peer buildah cannot run here")?;
        let ssh = SshAgent::start()?;
        seed(&registry, &slipway)?;
        // The worker pulls the seeded base (and the cases' parents) from the loopback
        // registry, which every slipway process reaches over plain HTTP.
        let farm = Cluster::start(slipway.bin(), &ClusterOptions::single("none", FARM_SLOTS))
            .context("starting a farm (one coordinator, one worker)")?;
        let modes = [Mode::embedded(), Mode::farm(&farm)];
        Ok(Builders {
            _farm: farm,
            modes,
            registry,
            slipway,
            docker,
            buildah,
            ssh,
        })
    }

    fn base(&self) -> String {
        format!("{}/library/busybox:latest", self.registry.addr())
    }

    fn request(&self, case: &Case, dockerfile: &Path, tag: String) -> BuildRequest {
        let mut build_args = vec![("BASE".to_string(), self.base())];
        build_args.extend(case.build_args.iter().cloned());
        BuildRequest {
            context: case.dir.clone(),
            dockerfile: dockerfile.to_path_buf(),
            tag,
            build_args,
            secrets: case
                .secrets
                .iter()
                .map(|s| (s.id.clone(), s.src.clone()))
                .collect(),
            ssh_socket: case.ssh.then(|| self.ssh.socket().to_path_buf()),
            target: case.target.clone(),
            platform: None,
            extra: Vec::new(),
        }
    }

    /// Builds `case` with slipway in `mode` and exports it to `layout:<reference>`.
    fn build_slipway(
        &self,
        mode: &Mode,
        case: &Case,
        layout: &Path,
        reference: &str,
    ) -> Result<()> {
        let mut req = self.request(case, &case.dockerfile, self.tag(case, reference));
        if let Some(parent) = &case.parent {
            let preq = self.request(case, parent, self.parent_tag(case, reference));
            self.slipway
                .build_push_in(mode, &preq)
                .context("slipway: parent image")?;
            req.build_args.push(("PARENT".into(), preq.tag));
        }
        self.slipway.build_push_in(mode, &req)?;
        self.slipway.export(&req.tag, layout, reference)
    }

    /// Builds `case` with its peer and exports it to `layout:<peer>`; returns the peer's image
    /// config when the OCI layout cannot carry all of it (docker).
    fn build_peer(&self, case: &Case, layout: &Path) -> Result<Option<Value>> {
        let peer = case.peer.name();
        let mut req = self.request(case, case.peer_dockerfile(), self.tag(case, peer));
        if let Some(parent) = &case.parent {
            let preq = self.request(case, parent, self.parent_tag(case, peer));
            match case.peer {
                Peer::Docker => {
                    self.docker.build(&preq)?;
                    self.docker.push(&preq.tag)?;
                }
                Peer::Buildah => {
                    self.buildah.build(&preq)?;
                    self.buildah.push(&preq.tag)?;
                }
            }
            req.build_args.push(("PARENT".into(), preq.tag));
        }
        match case.peer {
            Peer::Docker => {
                self.docker.build(&req)?;
                self.docker.export(&req.tag, layout, peer).map(Some)
            }
            Peer::Buildah => {
                self.buildah.build(&req)?;
                self.buildah.export(&req.tag, layout, peer).map(|_| None)
            }
        }
    }

    fn tag(&self, case: &Case, builder: &str) -> String {
        format!("{}/diff/{}:{builder}", self.registry.addr(), case.name)
    }

    fn parent_tag(&self, case: &Case, builder: &str) -> String {
        format!(
            "{}/diff-parent/{}:{builder}",
            self.registry.addr(),
            case.name
        )
    }

    /// Builds `case` with its peer once, then with slipway in each mode, and compares each
    /// slipway image with the peer's. `Err`: the peer could not build the case.
    fn check(&self, case: &Case) -> Result<Vec<ModeOutcome>> {
        let work = tempfile::Builder::new().prefix("slipway-diff").tempdir()?;
        let layout = work.path().join("layout");
        let peer_config = self
            .build_peer(case, &layout)
            .with_context(|| format!("peer {} could not build the case", case.peer.name()))?;
        let mut theirs = unpack(&layout, case.peer.name(), &work.path().join("peer"))?;
        if let Some(config) = peer_config {
            theirs.config = config;
        }
        let theirs_tree = snapshot(&theirs.rootfs)?;
        let peer = Side {
            tree: &theirs_tree,
            config: &theirs.config,
        };
        let mut outcomes = Vec::new();
        for mode in &self.modes {
            let started = Instant::now();
            let result = self.check_mode(mode, case, &layout, work.path(), &peer);
            outcomes.push(ModeOutcome {
                mode: mode.name(),
                elapsed: started.elapsed(),
                result,
            });
        }
        Ok(outcomes)
    }

    /// Builds `case` with slipway in `mode` and compares the image with `peer`; returns what
    /// the comparison excluded.
    fn check_mode(
        &self,
        mode: &Mode,
        case: &Case,
        layout: &Path,
        work: &Path,
        peer: &Side,
    ) -> Result<Vec<String>> {
        let reference = format!("slipway-{}", mode.name());
        self.build_slipway(mode, case, layout, &reference)
            .with_context(|| format!("slipway ({}) could not build the case", mode.name()))?;
        let ours = unpack(layout, &reference, &work.join(&reference))?;
        let ours_tree = snapshot(&ours.rootfs)?;
        let outcome = compare(
            Side {
                tree: &ours_tree,
                config: &ours.config,
            },
            Side {
                tree: peer.tree,
                config: peer.config,
            },
            case.peer,
            &case.mount_targets(),
        );
        if !outcome.differences.is_empty() {
            bail!(
                "slipway ({}) and {} differ:\n{}",
                mode.name(),
                case.peer.name(),
                Report {
                    peer: case.peer,
                    differences: &outcome.differences
                }
            );
        }
        Ok(outcome.excluded)
    }
}

/// The busybox base, built and pushed by slipway (scripts/seed-base-images.sh).
fn seed(registry: &Registry, slipway: &Slipway) -> Result<()> {
    run(Command::new("bash")
        .arg(slipway_e2e::workspace_root().join("scripts/seed-base-images.sh"))
        .arg(registry.addr())
        .env("SLIPWAY", slipway.bin())
        .env("SLIPWAY_DATA_DIR", slipway.data_dir()))
    .context("seeding the busybox base image with slipway")?;
    Ok(())
}

#[test]
fn differential_corpus() {
    let cases = load_corpus().expect("loading tests/differential");
    assert!(!cases.is_empty(), "no differential cases selected");
    let builders = match Builders::start() {
        Ok(b) => b,
        Err(e) => panic!("differential tests cannot run: {e:#}"),
    };
    let mut failures = Vec::new();
    for case in &cases {
        let started = Instant::now();
        let spelled = match &case.peer_dockerfile {
            Some(p) => format!(
                ", peer built {}",
                p.file_name().unwrap_or_default().to_string_lossy()
            ),
            None => String::new(),
        };
        let outcomes = match builders.check(case) {
            Ok(o) => o,
            Err(e) => {
                println!("FAIL {} (vs {}): {e:#}", case.name, case.peer.name());
                failures.push(format!("{}: {e:#}", case.name));
                continue;
            }
        };
        let times = outcomes
            .iter()
            .map(|o| format!("{} {:.1}s", o.mode, o.elapsed.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ");
        let failed: Vec<String> = outcomes
            .iter()
            .filter_map(|o| {
                o.result
                    .as_ref()
                    .err()
                    .map(|e| format!("[{}] {e:#}", o.mode))
            })
            .collect();
        if failed.is_empty() {
            println!(
                "PASS {} (vs {}{spelled}; {times}; {:.1}s in all)",
                case.name,
                case.peer.name(),
                started.elapsed().as_secs_f64()
            );
            let excluded: Vec<&Vec<String>> = outcomes
                .iter()
                .filter_map(|o| o.result.as_ref().ok())
                .collect();
            if excluded.windows(2).all(|w| w[0] == w[1]) {
                for e in excluded.first().into_iter().flat_map(|l| l.iter()) {
                    println!("     excluded {e}");
                }
            } else {
                for (o, list) in outcomes.iter().zip(&excluded) {
                    for e in list.iter() {
                        println!("     excluded [{}] {e}", o.mode);
                    }
                }
            }
        } else {
            for f in &failed {
                println!("FAIL {} (vs {}{spelled}) {f}", case.name, case.peer.name());
                failures.push(format!("{} {f}", case.name));
            }
        }
    }
    drop(builders);
    assert!(
        failures.is_empty(),
        "{} differential checks (case and mode) of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
