//! `slipway dev-cluster up|down`: a local farm in the background for development and tests:
//! N coordinators (one Raft cluster) and M workers, each a `slipway coordinator` /
//! `slipway worker` process of this same binary, with logs and pid files in `--dir`.
//!
//! Layout of `D`: `builder` (the addresses to pass to `--builder`), `certs/` (dev CA and
//! certificates unless `--insecure`), `coordinator-N.pid|.log`, `coordinator-N/` (data),
//! `worker-N.pid|.log`, `worker-N/` (data). N counts from 1 and matches the ids the cluster
//! reports (Raft node ids, worker names).

use super::farm::client::{FarmClient, FarmOptions};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Subcommand, Debug)]
pub enum DevClusterCommand {
    /// Start a local farm in the background.
    Up(UpArgs),
    /// Stop the farm started in `--dir`.
    Down(DownArgs),
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Where pid files, logs, data and certificates go.
    #[arg(long)]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 3)]
    pub coordinators: u32,
    #[arg(long, default_value_t = 3)]
    pub workers: u32,
    /// Tasks each worker runs at once.
    #[arg(long, default_value_t = 2)]
    pub slots: u32,
    /// Plaintext gRPC and unauthenticated QUIC (local development only).
    #[arg(long)]
    pub insecure: bool,
    /// A registry reached over plain HTTP by the farm (repeatable; loopback always is).
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Worker lease time-to-live in milliseconds.
    #[arg(long = "lease-ttl-ms", default_value_t = 3000)]
    pub lease_ttl_ms: u64,
    /// Seconds to wait for a leader and every worker.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    #[arg(long)]
    pub dir: PathBuf,
}

pub fn run(cmd: DevClusterCommand) -> Result<()> {
    match cmd {
        DevClusterCommand::Up(a) => up(a),
        DevClusterCommand::Down(a) => down(&a.dir),
    }
}

/// The emulated platforms worker `n` offers: together the workers cover arm64 and arm/v7
/// twice each, with different sets per worker.
fn emulated_for(n: u32) -> &'static str {
    match n % 3 {
        1 => "linux/arm64,linux/arm/v7",
        2 => "linux/arm64",
        _ => "linux/arm/v7",
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

fn free_udp_port() -> Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").context("finding a free UDP port")?;
    Ok(s.local_addr()?.port())
}

fn up(a: UpArgs) -> Result<()> {
    if a.coordinators == 0 || a.workers == 0 {
        anyhow::bail!("dev-cluster needs at least one coordinator and one worker");
    }
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let dir = std::path::absolute(&a.dir)?;
    for n in 1..=a.coordinators.max(a.workers) {
        for kind in ["coordinator", "worker"] {
            let pid = dir.join(format!("{kind}-{n}.pid"));
            if let Some(p) = read_pid(&pid) {
                if alive(p) {
                    anyhow::bail!(
                        "{} is running (pid {p}): run `slipway dev-cluster down --dir {}` first",
                        pid.display(),
                        a.dir.display()
                    );
                }
            }
        }
    }
    let exe = std::env::current_exe().context("locating the slipway binary")?;
    let certs = dir.join("certs");
    let mut security_flags: Vec<String> = Vec::new();
    if a.insecure {
        security_flags.push("--insecure".into());
    } else if !certs.join("ca.pem").exists() {
        let mut names: Vec<String> = (1..=a.coordinators)
            .map(|n| format!("coordinator-{n}"))
            .collect();
        names.extend((1..=a.workers).map(|n| format!("worker-{n}")));
        slipway_tls::init_certs(
            &certs,
            &slipway_tls::CertsOptions {
                hosts: vec!["127.0.0.1".into(), "localhost".into()],
                names,
                ..Default::default()
            },
        )
        .context("creating the dev CA and certificates")?;
    }

    let ports: Vec<u16> = (0..a.coordinators)
        .map(|_| free_port())
        .collect::<Result<_>>()?;
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let peers = addrs
        .iter()
        .enumerate()
        .map(|(i, ad)| format!("{}={ad}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    for n in 1..=a.coordinators {
        let addr = &addrs[(n - 1) as usize];
        let mut args: Vec<String> = vec![
            "coordinator".into(),
            "--id".into(),
            n.to_string(),
            "--listen".into(),
            addr.clone(),
            "--data-dir".into(),
            dir.join(format!("coordinator-{n}")).display().to_string(),
            "--peers".into(),
            peers.clone(),
            "--lease-ttl-ms".into(),
            a.lease_ttl_ms.to_string(),
        ];
        args.extend(tls_args(&a, &certs, &format!("coordinator-{n}")));
        for r in &a.insecure_registries {
            args.push("--insecure-registry".into());
            args.push(r.clone());
        }
        spawn(&exe, &args, &dir, &format!("coordinator-{n}"))?;
    }
    let coordinators = addrs.join(",");
    for n in 1..=a.workers {
        let mut args: Vec<String> = vec![
            "worker".into(),
            "--id".into(),
            format!("worker-{n}"),
            "--coordinators".into(),
            coordinators.clone(),
            "--data-dir".into(),
            dir.join(format!("worker-{n}")).display().to_string(),
            "--data-listen".into(),
            format!("127.0.0.1:{}", free_udp_port()?),
            "--slots".into(),
            a.slots.to_string(),
            "--emulate".into(),
            emulated_for(n).into(),
        ];
        args.extend(tls_args(&a, &certs, &format!("worker-{n}")));
        for r in &a.insecure_registries {
            args.push("--insecure-registry".into());
            args.push(r.clone());
        }
        spawn(&exe, &args, &dir, &format!("worker-{n}"))?;
    }
    std::fs::write(dir.join("builder"), format!("{coordinators}\n"))
        .context("writing the builder file")?;

    let opts = FarmOptions {
        builder: Some(coordinators.clone()),
        tls_dir: (!a.insecure).then(|| certs.clone()),
        insecure: a.insecure,
    };
    wait_ready(
        &opts,
        a.coordinators,
        a.workers,
        Duration::from_secs(a.timeout),
        &dir,
    )?;
    println!("{coordinators}");
    eprintln!(
        "dev-cluster up: {} coordinators, {} workers; use `--builder $(cat {}/builder){}`",
        a.coordinators,
        a.workers,
        a.dir.display(),
        if a.insecure {
            " --insecure".to_string()
        } else {
            format!(" --tls-dir {}", certs.display())
        }
    );
    Ok(())
}

fn tls_args(a: &UpArgs, certs: &Path, name: &str) -> Vec<String> {
    if a.insecure {
        vec!["--insecure".into()]
    } else {
        vec![
            "--tls-dir".into(),
            certs.display().to_string(),
            "--tls-name".into(),
            name.into(),
        ]
    }
}

fn spawn(exe: &Path, args: &[String], dir: &Path, name: &str) -> Result<()> {
    let log_path = dir.join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .env(
            "SLIPWAY_LOG",
            std::env::var("SLIPWAY_LOG").unwrap_or_else(|_| "info".into()),
        )
        // Its own process group: a Ctrl-C in the terminal that ran `up` does not reach it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    std::fs::write(dir.join(format!("{name}.pid")), format!("{}\n", child.id()))
        .with_context(|| format!("writing {name}.pid"))?;
    Ok(())
}

fn wait_ready(
    opts: &FarmOptions,
    coordinators: u32,
    workers: u32,
    timeout: Duration,
    dir: &Path,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    while start.elapsed() < timeout {
        let r: Result<(bool, usize)> = rt.block_on(async {
            let mut c = FarmClient::connect(opts).await?;
            let st = c.cluster_status().await?;
            let ws = c.list_workers().await?;
            let alive = ws.iter().filter(|w| w.alive).count();
            Ok((
                st.leader_id.is_some() && st.members.len() as u32 == coordinators,
                alive,
            ))
        });
        match r {
            Ok((true, alive)) if alive as u32 >= workers => return Ok(()),
            Ok((leader, alive)) => {
                last = format!("leader elected: {leader}, workers alive: {alive}/{workers}")
            }
            Err(e) => last = format!("{e:#}"),
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    anyhow::bail!(
        "the dev cluster was not ready after {}s ({last}); logs are in {}",
        timeout.as_secs(),
        dir.display()
    )
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

fn down(dir: &Path) -> Result<()> {
    let mut pids = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "pid") {
            if let Some(pid) = read_pid(&path) {
                pids.push((path.clone(), pid));
            }
        }
    }
    // Workers first (they finish reporting), then coordinators.
    pids.sort_by_key(|(p, _)| !p.to_string_lossy().contains("worker-"));
    for (_, pid) in &pids {
        if alive(*pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for (path, pid) in &pids {
        while alive(*pid) && Instant::now() < deadline {
            reap(*pid);
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(*pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = std::fs::remove_file(path);
    }
    eprintln!("dev-cluster down: stopped {} processes", pids.len());
    Ok(())
}

/// A process we did not start is not our child; waiting only matters for zombies of ours.
fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}
