//! Differential tests: every case in tests/differential is built by slipway and by a peer
//! (dockerd 20.10's BuildKit or buildah 1.28) in the same run; root filesystems and image
//! configs must match except for the documented peer behaviour in `exclusions::EXCLUSIONS`.
//!
//! Needs root, docker-registry, skopeo, umoci, dockerd/docker (docker.io), buildah, ssh-agent
//! (scripts/setup.sh installs them). A peer that cannot run fails the test with the reason.
//! `SLIPWAY_BIN` selects the binary (default: cargo builds slipway-cli); `SLIPWAY_DIFF_CASES=a,b`
//! runs only those cases.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use slipway_e2e::builders::buildah::Buildah;
use slipway_e2e::builders::dockerd::Dockerd;
use slipway_e2e::builders::slipway::Slipway;
use slipway_e2e::builders::BuildRequest;
use slipway_e2e::case::{load_corpus, Case, Peer};
use slipway_e2e::compare::{compare, Report, Side};
use slipway_e2e::image::unpack;
use slipway_e2e::process::run;
use slipway_e2e::registry::Registry;
use slipway_e2e::sshagent::SshAgent;
use slipway_e2e::tree::snapshot;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

struct Farm {
    registry: Registry,
    slipway: Slipway,
    docker: Dockerd,
    buildah: Buildah,
    ssh: SshAgent,
}

impl Farm {
    fn start() -> Result<Farm> {
        let registry = Registry::start().context("starting docker-registry")?;
        let slipway = Slipway::locate(registry.addr()).context("locating slipway")?;
        let docker =
            Dockerd::start(registry.addr()).context("peer dockerd 20.10 cannot run here")?;
        let buildah = Buildah::new().context("peer buildah cannot run here")?;
        let ssh = SshAgent::start()?;
        let farm = Farm {
            registry,
            slipway,
            docker,
            buildah,
            ssh,
        };
        farm.seed()?;
        Ok(farm)
    }

    fn base(&self) -> String {
        format!("{}/library/busybox:latest", self.registry.addr())
    }

    /// The busybox base, built and pushed by slipway (scripts/seed-base-images.sh).
    fn seed(&self) -> Result<()> {
        run(Command::new("bash")
            .arg(slipway_e2e::workspace_root().join("scripts/seed-base-images.sh"))
            .arg(self.registry.addr())
            .env("SLIPWAY", self.slipway.bin())
            .env("SLIPWAY_DATA_DIR", self.slipway.data_dir()))
        .context("seeding the busybox base image with slipway")?;
        Ok(())
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

    /// Builds `case` with slipway and exports it to `layout:slipway`.
    fn build_slipway(&self, case: &Case, layout: &Path) -> Result<()> {
        let mut req = self.request(case, &case.dockerfile, self.tag(case, "slipway"));
        if let Some(parent) = &case.parent {
            let preq = self.request(case, parent, self.parent_tag(case, "slipway"));
            self.slipway
                .build_push(&preq)
                .context("slipway: parent image")?;
            req.build_args.push(("PARENT".into(), preq.tag));
        }
        self.slipway.build_push(&req)?;
        self.slipway.export(&req.tag, layout, "slipway")
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

    fn check(&self, case: &Case) -> Result<Vec<String>> {
        let work = tempfile::Builder::new().prefix("slipway-diff").tempdir()?;
        let layout = work.path().join("layout");
        let peer_config = self
            .build_peer(case, &layout)
            .with_context(|| format!("peer {} could not build the case", case.peer.name()))?;
        self.build_slipway(case, &layout)
            .context("slipway could not build the case")?;
        let ours = unpack(&layout, "slipway", &work.path().join("slipway"))?;
        let mut theirs = unpack(&layout, case.peer.name(), &work.path().join("peer"))?;
        if let Some(config) = peer_config {
            theirs.config = config;
        }
        let ours_tree = snapshot(&ours.rootfs)?;
        let theirs_tree = snapshot(&theirs.rootfs)?;
        let outcome = compare(
            Side {
                tree: &ours_tree,
                config: &ours.config,
            },
            Side {
                tree: &theirs_tree,
                config: &theirs.config,
            },
            case.peer,
            &case.mount_targets(),
        );
        if !outcome.differences.is_empty() {
            bail!(
                "slipway and {} differ:\n{}",
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

#[test]
fn differential_corpus() {
    let cases = load_corpus().expect("loading tests/differential");
    assert!(!cases.is_empty(), "no differential cases selected");
    let farm = match Farm::start() {
        Ok(f) => f,
        Err(e) => panic!("differential tests cannot run: {e:#}"),
    };
    let mut failures = Vec::new();
    for case in &cases {
        let started = Instant::now();
        match farm.check(case) {
            Ok(excluded) => {
                let spelled = match &case.peer_dockerfile {
                    Some(p) => format!(
                        ", peer built {}",
                        p.file_name().unwrap_or_default().to_string_lossy()
                    ),
                    None => String::new(),
                };
                println!(
                    "PASS {} (vs {}{spelled}, {:.1}s)",
                    case.name,
                    case.peer.name(),
                    started.elapsed().as_secs_f64()
                );
                for e in excluded {
                    println!("     excluded {e}");
                }
            }
            Err(e) => {
                println!("FAIL {} (vs {}): {e:#}", case.name, case.peer.name());
                failures.push(format!("{}: {e:#}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differential cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
