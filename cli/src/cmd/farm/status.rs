//! `slipway workers ls`, `slipway builds ls|inspect|cancel`, `slipway cluster status`: what
//! the farm holds, as a table or as JSON (`--format json`).

use super::client::{FarmClient, FarmOptions};
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use slipway_proto::v1;

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// How to reach the farm (shared by every farm client command).
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Coordinator addresses, comma separated.
    #[arg(long, env = "SLIPWAY_BUILDER")]
    pub builder: Option<String>,
    /// Directory with `ca.pem`, `client.pem`, `client-key.pem` (`slipway certs init`).
    #[arg(long = "tls-dir", env = "SLIPWAY_TLS_DIR")]
    pub tls_dir: Option<std::path::PathBuf>,
    /// Plaintext gRPC (local development only).
    #[arg(long, env = "SLIPWAY_INSECURE")]
    pub insecure: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl ConnectArgs {
    pub fn options(&self) -> FarmOptions {
        FarmOptions {
            builder: self.builder.clone(),
            tls_dir: self.tls_dir.clone(),
            insecure: self.insecure,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum WorkersCommand {
    /// List workers: platforms (native/emulated), load, lease age.
    Ls(ConnectArgs),
    /// Drain a worker: no new task is placed on it; it finishes what it holds and keeps
    /// serving its blobs (cache, contexts) to the other workers.
    Drain {
        /// The worker id (`slipway workers ls`).
        id: String,
        /// Undo: place tasks on the worker again.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum BuildsCommand {
    /// List builds.
    Ls(ConnectArgs),
    /// Show one build and its tasks.
    Inspect {
        id: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Cancel a build.
    Cancel {
        id: String,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Members, leader, term and commit index.
    Status(ConnectArgs),
}

pub(super) fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(f)
}

fn platforms(p: &Option<v1::PlatformSupport>) -> (String, String) {
    match p {
        Some(p) => (p.native.join(","), p.emulated.join(",")),
        None => (String::new(), String::new()),
    }
}

fn drain(id: String, undo: bool, c: &ConnectArgs) -> Result<()> {
    let info = block_on(async {
        let mut client = FarmClient::connect(&c.options()).await?;
        let answer = client
            .control()
            .drain_worker(v1::DrainRequest {
                worker_id: id.clone(),
                drain: !undo,
            })
            .await
            .map_err(|s| anyhow::anyhow!("draining worker {id}: {}", s.message()))?;
        Ok(answer.into_inner())
    })?;
    match c.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "id": id,
                "draining": info.draining,
                "running": info.running_tasks,
            }))?
        ),
        Format::Table => println!(
            "worker {id}: {} ({} task(s) held)",
            if info.draining {
                "draining"
            } else {
                "accepting tasks"
            },
            info.running_tasks
        ),
    }
    Ok(())
}

pub fn workers(cmd: WorkersCommand) -> Result<()> {
    let c = match cmd {
        WorkersCommand::Ls(c) => c,
        WorkersCommand::Drain { id, undo, connect } => return drain(id, undo, &connect),
    };
    let list = block_on(async {
        FarmClient::connect(&c.options())
            .await?
            .list_workers()
            .await
    })?;
    let rows: Vec<Value> = list
        .iter()
        .map(|w| {
            let spec = w.spec.clone().unwrap_or_default();
            let (native, emulated) = platforms(&spec.platforms);
            json!({
                "id": spec.id,
                "alive": w.alive,
                "native": native.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                "emulated": emulated.split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                "slots": spec.slots,
                "running": w.running_tasks,
                "assigned_total": w.assigned_total,
                "draining": w.draining,
                "lease_age_ms": w.lease_age_ms,
                "data_addr": spec.data_addr,
            })
        })
        .collect();
    match c.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Table => {
            println!(
                "{:<14} {:<6} {:<22} {:<30} {:>7} {:>9}",
                "ID", "ALIVE", "NATIVE", "EMULATED", "LOAD", "LEASE"
            );
            for (w, r) in list.iter().zip(&rows) {
                let spec = w.spec.clone().unwrap_or_default();
                let (native, emulated) = platforms(&spec.platforms);
                println!(
                    "{:<14} {:<6} {:<22} {:<30} {:>7} {:>8}s",
                    spec.id,
                    if w.alive { "yes" } else { "no" },
                    native,
                    emulated,
                    format!("{}/{}", w.running_tasks, spec.slots),
                    format!("{:.1}", w.lease_age_ms as f64 / 1000.0),
                );
                let _ = r;
            }
        }
    }
    Ok(())
}

fn summary_json(s: &v1::BuildSummary) -> Result<Value> {
    let farm: slipway_farm::BuildSummary =
        s.clone().try_into().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut v = serde_json::to_value(&farm)?;
    v["state_name"] = json!(farm.state.name());
    Ok(v)
}

pub fn builds(cmd: BuildsCommand) -> Result<()> {
    match cmd {
        BuildsCommand::Ls(c) => {
            let list =
                block_on(async { FarmClient::connect(&c.options()).await?.list_builds().await })?;
            match c.format {
                Format::Json => {
                    let rows = list.iter().map(summary_json).collect::<Result<Vec<_>>>()?;
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                }
                Format::Table => {
                    println!(
                        "{:<38} {:<11} {:>5} {:<30} NAME",
                        "ID", "STATE", "TASKS", "PLATFORMS"
                    );
                    for s in &list {
                        let farm: slipway_farm::BuildSummary =
                            s.clone().try_into().map_err(|e| anyhow::anyhow!("{e}"))?;
                        println!(
                            "{:<38} {:<11} {:>5} {:<30} {}",
                            farm.id,
                            farm.state.name(),
                            format!("{}/{}", farm.tasks_done, farm.tasks_total),
                            farm.platforms
                                .iter()
                                .map(|p| p.to_string())
                                .collect::<Vec<_>>()
                                .join(","),
                            farm.name
                        );
                    }
                }
            }
        }
        BuildsCommand::Inspect { id, connect } => {
            let d = block_on(async {
                FarmClient::connect(&connect.options())
                    .await?
                    .get_build(&id)
                    .await
            })?;
            let summary = d
                .summary
                .as_ref()
                .context("the coordinator sent no summary")?;
            let tasks: Vec<Value> = d
                .tasks
                .iter()
                .map(|t| {
                    let state = t
                        .state
                        .clone()
                        .map(slipway_farm::TaskState::try_from)
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let kind = slipway_proto::convert::task_kind(t.kind, ("TaskInfo", "kind"))
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    Ok(json!({
                        "id": t.id,
                        "name": t.name,
                        "platform": t.platform,
                        "kind": match kind {
                            slipway_farm::TaskKind::Image => "image",
                            slipway_farm::TaskKind::Stage => "stage",
                        },
                        "depends_on": t.depends_on,
                        "state": state.as_ref().map(|s| s.name()),
                        "detail": state,
                        "worker": t.worker,
                        "attempt": t.attempt,
                        "message": t.message,
                    }))
                })
                .collect::<Result<_>>()?;
            let v = json!({"summary": summary_json(summary)?, "tasks": tasks});
            match connect.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&v)?),
                Format::Table => {
                    let s = &v["summary"];
                    println!("ID:        {}", s["id"].as_str().unwrap_or_default());
                    println!("Name:      {}", s["name"].as_str().unwrap_or_default());
                    println!(
                        "State:     {}",
                        s["state_name"].as_str().unwrap_or_default()
                    );
                    println!("Tasks:");
                    for t in &d.tasks {
                        let kind = tasks
                            .iter()
                            .find(|x| x["id"] == t.id.as_str())
                            .and_then(|x| x["kind"].as_str())
                            .unwrap_or("");
                        println!(
                            "  {:<38} {:<5} {:<16} {:<10} attempt {} {}",
                            t.id,
                            kind,
                            t.platform,
                            tasks
                                .iter()
                                .find(|x| x["id"] == t.id.as_str())
                                .and_then(|x| x["state"].as_str())
                                .unwrap_or(""),
                            t.attempt,
                            t.worker.clone().unwrap_or_default()
                        );
                    }
                }
            }
        }
        BuildsCommand::Cancel { id, connect } => {
            let s = block_on(async {
                FarmClient::connect(&connect.options())
                    .await?
                    .cancel(&id)
                    .await
            })?;
            let v = summary_json(&s)?;
            match connect.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&v)?),
                Format::Table => println!("{id}: {}", v["state_name"].as_str().unwrap_or_default()),
            }
        }
    }
    Ok(())
}

pub fn cluster(cmd: ClusterCommand) -> Result<()> {
    let ClusterCommand::Status(c) = cmd;
    let st = block_on(async {
        FarmClient::connect(&c.options())
            .await?
            .cluster_status()
            .await
    })?;
    let members: Vec<Value> = st
        .members
        .iter()
        .map(|m| json!({"id": m.id, "addr": m.addr, "voter": m.voter}))
        .collect();
    let v = json!({
        "node": st.node_id,
        "leader": st.leader_id,
        "term": st.term,
        "commit_index": st.commit_index,
        "applied_index": st.applied_index,
        "members": members,
    });
    match c.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&v)?),
        Format::Table => {
            println!("Answered by: coordinator-{}", st.node_id);
            println!(
                "Leader:      {}",
                st.leader_id
                    .map(|l| format!("coordinator-{l}"))
                    .unwrap_or_else(|| "none".into())
            );
            println!("Term:        {}", st.term);
            println!("Commit:      {}", st.commit_index);
            println!("Applied:     {}", st.applied_index);
            println!("Members:");
            for m in &st.members {
                println!(
                    "  coordinator-{} {} {}",
                    m.id,
                    m.addr,
                    if m.voter { "voter" } else { "learner" }
                );
            }
        }
    }
    Ok(())
}
