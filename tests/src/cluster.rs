//! A farm of real processes for end-to-end tests: `slipway coordinator` and `slipway worker`
//! processes of the binary under test, with a dev CA (`slipway certs init`), started and
//! killed one by one. One coordinator can be put in its own network namespace, joined to
//! the host by a veth pair, so a test can cut it off and heal it.

use crate::process::{run, run_stdout};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One worker's shape.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// `--emulate` value: `none`, or a comma-separated platform list.
    pub emulate: String,
    pub slots: u32,
    /// `--allow-insecure-entitlement` value (comma separated); empty: none.
    pub entitlements: String,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub coordinators: u64,
    pub workers: Vec<WorkerOptions>,
    pub lease_ttl_ms: u64,
    /// Put this coordinator in its own network namespace (see [`Cluster::cut_off`]).
    pub isolated: Option<u64>,
}

impl ClusterOptions {
    /// One coordinator and one amd64 worker with `slots` slots, also emulating `emulate`
    /// (`none`, or a comma-separated platform list).
    pub fn single(emulate: &str, slots: u32) -> ClusterOptions {
        ClusterOptions {
            coordinators: 1,
            workers: vec![WorkerOptions {
                emulate: emulate.into(),
                slots,
                entitlements: String::new(),
            }],
            lease_ttl_ms: 3_000,
            isolated: None,
        }
    }
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            coordinators: 3,
            workers: vec![
                WorkerOptions {
                    emulate: "linux/arm64,linux/arm/v7".into(),
                    slots: 2,
                    entitlements: String::new(),
                },
                WorkerOptions {
                    emulate: "linux/arm64".into(),
                    slots: 2,
                    entitlements: String::new(),
                },
                WorkerOptions {
                    emulate: "linux/arm/v7".into(),
                    slots: 2,
                    entitlements: String::new(),
                },
            ],
            lease_ttl_ms: 2_000,
            isolated: None,
        }
    }
}

struct Proc {
    name: String,
    args: Vec<String>,
    netns: Option<String>,
    child: Option<Child>,
}

/// The network namespace of the isolated coordinator.
struct Netns {
    name: String,
    host_if: String,
    ns_if: String,
}

/// A running farm; every process is killed on drop.
pub struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    coordinators: BTreeMap<u64, Proc>,
    workers: BTreeMap<u32, Proc>,
    addrs: BTreeMap<u64, String>,
    netns: Option<Netns>,
}

fn free_port(ip: &str) -> Result<u16> {
    let l = std::net::TcpListener::bind((ip, 0)).context("binding a free port")?;
    Ok(l.local_addr()?.port())
}

fn free_udp_port() -> Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").context("binding a free UDP port")?;
    Ok(s.local_addr()?.port())
}

impl Cluster {
    /// Starts the farm and waits for a leader and every worker.
    pub fn start(bin: &Path, opts: &ClusterOptions) -> Result<Cluster> {
        let dir = tempfile::Builder::new()
            .prefix("slipway-e2e-farm")
            .tempdir()?;
        let mut netns = None;
        let mut host_ip = "127.0.0.1".to_string();
        let mut ns_ip = String::new();
        if opts.isolated.is_some() {
            let (ns, h, n) = make_netns()?;
            host_ip = h;
            ns_ip = n;
            netns = Some(ns);
        }
        let mut names: Vec<String> = (1..=opts.coordinators)
            .map(|n| format!("coordinator-{n}"))
            .collect();
        names.extend((1..=opts.workers.len()).map(|n| format!("worker-{n}")));
        let certs = dir.path().join("certs");
        let mut init = Command::new(bin);
        init.args(["certs", "init", "--dir"]).arg(&certs).args([
            "--host",
            "127.0.0.1",
            "--host",
            "localhost",
        ]);
        for ip in [&host_ip, &ns_ip] {
            if !ip.is_empty() && ip != "127.0.0.1" {
                init.args(["--host", ip]);
            }
        }
        for n in &names {
            init.args(["--name", n]);
        }
        run(&mut init).context("slipway certs init")?;

        let mut cluster = Cluster {
            bin: bin.to_path_buf(),
            dir,
            coordinators: BTreeMap::new(),
            workers: BTreeMap::new(),
            addrs: BTreeMap::new(),
            netns,
        };
        for id in 1..=opts.coordinators {
            let ip = if Some(id) == opts.isolated {
                ns_ip.clone()
            } else {
                host_ip.clone()
            };
            // The isolated node's port is chosen on the host: nothing else listens there.
            let port = free_port(if ip == ns_ip { "127.0.0.1" } else { &ip })?;
            cluster.addrs.insert(id, format!("{ip}:{port}"));
        }
        let peers = cluster
            .addrs
            .iter()
            .map(|(id, a)| format!("{id}={a}"))
            .collect::<Vec<_>>()
            .join(",");
        let certs_s = certs.display().to_string();
        for id in 1..=opts.coordinators {
            let name = format!("coordinator-{id}");
            let args = vec![
                "coordinator".to_string(),
                "--id".into(),
                id.to_string(),
                "--listen".into(),
                cluster.addrs[&id].clone(),
                "--data-dir".into(),
                cluster.dir.path().join(&name).display().to_string(),
                "--peers".into(),
                peers.clone(),
                "--lease-ttl-ms".into(),
                opts.lease_ttl_ms.to_string(),
                "--tls-dir".into(),
                certs_s.clone(),
                "--tls-name".into(),
                name.clone(),
            ];
            let ns = (Some(id) == opts.isolated)
                .then(|| cluster.netns.as_ref().map(|n| n.name.clone()))
                .flatten();
            cluster.coordinators.insert(
                id,
                Proc {
                    name,
                    args,
                    netns: ns,
                    child: None,
                },
            );
            cluster.start_coordinator(id)?;
        }
        let builder = cluster.builder();
        for (i, w) in opts.workers.iter().enumerate() {
            let n = (i + 1) as u32;
            let name = format!("worker-{n}");
            let args = vec![
                "worker".to_string(),
                "--id".into(),
                name.clone(),
                "--coordinators".into(),
                builder.clone(),
                "--data-dir".into(),
                cluster.dir.path().join(&name).display().to_string(),
                "--data-listen".into(),
                format!("127.0.0.1:{}", free_udp_port()?),
                "--slots".into(),
                w.slots.to_string(),
                "--emulate".into(),
                w.emulate.clone(),
                "--tls-dir".into(),
                certs_s.clone(),
                "--tls-name".into(),
                name.clone(),
            ];
            let mut args = args;
            if !w.entitlements.is_empty() {
                args.push("--allow-insecure-entitlement".into());
                args.push(w.entitlements.clone());
            }
            cluster.workers.insert(
                n,
                Proc {
                    name,
                    args,
                    netns: None,
                    child: None,
                },
            );
            cluster.start_worker(n)?;
        }
        cluster.wait_ready(
            opts.coordinators as usize,
            opts.workers.len(),
            Duration::from_secs(90),
        )?;
        Ok(cluster)
    }

    /// The `--builder` value: every coordinator's address.
    pub fn builder(&self) -> String {
        self.addrs.values().cloned().collect::<Vec<_>>().join(",")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `slipway` with the builder and the client certificate in its environment.
    pub fn cli(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("SLIPWAY_BUILDER", self.builder())
            .env("SLIPWAY_TLS_DIR", self.dir.path().join("certs"))
            .stdin(Stdio::null());
        c
    }

    fn spawn(&self, p: &Proc) -> Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", p.name)))?;
        let mut cmd = match &p.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        cmd.args(&p.args)
            .env("SLIPWAY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        cmd.spawn().with_context(|| format!("starting {}", p.name))
    }

    /// Starts (or restarts, from its data directory) coordinator `id`.
    pub fn start_coordinator(&mut self, id: u64) -> Result<()> {
        let child = {
            let p = self.coordinators.get(&id).context("no such coordinator")?;
            self.spawn(p)?
        };
        if let Some(p) = self.coordinators.get_mut(&id) {
            p.child = Some(child);
        }
        Ok(())
    }

    pub fn start_worker(&mut self, n: u32) -> Result<()> {
        let child = {
            let p = self.workers.get(&n).context("no such worker")?;
            self.spawn(p)?
        };
        if let Some(p) = self.workers.get_mut(&n) {
            p.child = Some(child);
        }
        Ok(())
    }

    /// SIGKILLs coordinator `id`.
    pub fn kill_coordinator(&mut self, id: u64) -> Result<()> {
        kill(
            self.coordinators
                .get_mut(&id)
                .context("no such coordinator")?,
        )
    }

    /// SIGKILLs worker `n`, then unmounts what it left mounted in its data dir.
    pub fn kill_worker(&mut self, n: u32) -> Result<()> {
        let p = self.workers.get_mut(&n).context("no such worker")?;
        kill(p)?;
        unmount_below(&self.dir.path().join(&p.name));
        Ok(())
    }

    /// A worker's log so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// `slipway cluster status --format json` asked from one coordinator (all when `None`).
    pub fn status(&self, node: Option<u64>) -> Result<Value> {
        let mut c = self.cli();
        if let Some(id) = node {
            c.env("SLIPWAY_BUILDER", &self.addrs[&id]);
        }
        let out = run_stdout(c.args(["cluster", "status", "--format", "json"]))?;
        serde_json::from_str(&out).with_context(|| format!("cluster status is not JSON: {out}"))
    }

    /// The leader's id as the cluster reports it.
    pub fn leader(&self) -> Result<u64> {
        let v = self.status(None)?;
        v["leader"]
            .as_u64()
            .with_context(|| format!("no leader in {v}"))
    }

    /// Waits until some coordinator reports a leader other than `not`.
    pub fn wait_leader(&self, not: Option<u64>, timeout: Duration) -> Result<u64> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < timeout {
            match self.leader() {
                Ok(l) if Some(l) != not => return Ok(l),
                Ok(l) => last = format!("leader still {l}"),
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("no new leader within {timeout:?}: {last}")
    }

    /// `slipway workers ls --format json`.
    pub fn workers(&self) -> Result<Value> {
        let out = run_stdout(self.cli().args(["workers", "ls", "--format", "json"]))?;
        serde_json::from_str(&out).with_context(|| format!("workers ls is not JSON: {out}"))
    }

    fn wait_ready(&self, coordinators: usize, workers: usize, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < timeout {
            let ready = (|| -> Result<bool> {
                let st = self.status(None)?;
                let members = st["members"].as_array().map_or(0, |m| m.len());
                if st["leader"].as_u64().is_none() || members != coordinators {
                    last = format!("status {st}");
                    return Ok(false);
                }
                let ws = self.workers()?;
                let alive = ws
                    .as_array()
                    .map_or(0, |a| a.iter().filter(|w| w["alive"] == true).count());
                last = format!("{alive}/{workers} workers alive");
                Ok(alive >= workers)
            })();
            match ready {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let mut logs = String::new();
        for p in self.coordinators.values().chain(self.workers.values()) {
            logs.push_str(&format!(
                "--- {}\n{}\n",
                p.name,
                crate::process::tail(self.log(&p.name).as_bytes(), 15)
            ));
        }
        bail!("farm not ready within {timeout:?}: {last}\n{logs}")
    }

    /// Cuts the isolated coordinator off from everything: the namespace side of its veth
    /// goes down (the host keeps its own address, so the others still reach each other).
    pub fn cut_off(&self) -> Result<()> {
        let ns = self.netns.as_ref().context("no isolated coordinator")?;
        run(Command::new("ip").args([
            "netns", "exec", &ns.name, "ip", "link", "set", &ns.ns_if, "down",
        ]))?;
        Ok(())
    }

    /// Reconnects the isolated coordinator.
    pub fn heal(&self) -> Result<()> {
        let ns = self.netns.as_ref().context("no isolated coordinator")?;
        run(Command::new("ip").args([
            "netns", "exec", &ns.name, "ip", "link", "set", &ns.ns_if, "up",
        ]))?;
        Ok(())
    }

    /// The address of coordinator `id`.
    pub fn addr(&self, id: u64) -> Option<&str> {
        self.addrs.get(&id).map(String::as_str)
    }
}

fn kill(p: &mut Proc) -> Result<()> {
    if let Some(mut c) = p.child.take() {
        c.kill().with_context(|| format!("killing {}", p.name))?;
        let _ = c.wait();
    }
    Ok(())
}

/// Lazily unmounts (`umount --lazy`: umount2 with MNT_DETACH) whatever is still mounted
/// below `dir`, deepest first: a SIGKILLed worker leaves its RUN steps' overlay mounts in
/// its data dir, which would otherwise outlive the farm's temp dir.
fn unmount_below(dir: &Path) {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    // Field 5 is the mount point; the farm's temp dir has nothing mountinfo escapes.
    let prefix = format!("{}/", dir.display());
    let mut points: Vec<&str> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for p in points {
        match Command::new("umount").args(["--lazy", p]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "unmounting {p}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("unmounting {p}: {e}"),
        }
    }
}

/// A network namespace with a veth pair: (namespace, host-side IP, namespace-side IP).
fn make_netns() -> Result<(Netns, String, String)> {
    let tag = std::process::id() % 250 + 1;
    let name = format!("slw-e2e-{}", std::process::id());
    let host_if = format!("slwh{}", std::process::id() % 100_000);
    let ns_if = format!("slwn{}", std::process::id() % 100_000);
    let host_ip = format!("10.231.{tag}.1");
    let ns_ip = format!("10.231.{tag}.2");
    let ip = |args: &[&str]| run(Command::new("ip").args(args)).map(|_| ());
    let _ = Command::new("ip").args(["netns", "del", &name]).status();
    let _ = Command::new("ip").args(["link", "del", &host_if]).status();
    ip(&["netns", "add", &name])?;
    let ns = Netns {
        name: name.clone(),
        host_if: host_if.clone(),
        ns_if: ns_if.clone(),
    };
    ip(&[
        "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
    ])?;
    ip(&["link", "set", &ns_if, "netns", &name])?;
    ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &host_if])?;
    ip(&["link", "set", &host_if, "up"])?;
    ip(&[
        "netns",
        "exec",
        &name,
        "ip",
        "addr",
        "add",
        &format!("{ns_ip}/24"),
        "dev",
        &ns_if,
    ])?;
    ip(&["netns", "exec", &name, "ip", "link", "set", &ns_if, "up"])?;
    ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"])?;
    Ok((ns, host_ip, ns_ip))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in self
            .workers
            .values_mut()
            .chain(self.coordinators.values_mut())
        {
            let _ = kill(p);
        }
        unmount_below(self.dir.path());
        if let Some(ns) = &self.netns {
            let _ = Command::new("ip")
                .args(["link", "del", &ns.host_if])
                .status();
            let _ = Command::new("ip").args(["netns", "del", &ns.name]).status();
        }
    }
}
