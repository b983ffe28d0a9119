//! A test cluster: each node is a `RaftNode` plus a tonic server on 127.0.0.1 serving its
//! Raft service; nodes can be stopped and restarted from their data directory.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use crate::farm::raft::{RaftConfig, RaftNode, RaftNodeError};
use crate::farm::state::test_support::worker_spec;
use crate::farm::state::{Command, Response};

pub type TestResult = anyhow::Result<()>;

/// A running node and its server.
pub struct Running {
    pub node: RaftNode,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// One member of a test cluster (stopped when `running` is `None`).
pub struct Member {
    pub id: u64,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub running: Option<Running>,
}

pub struct Cluster {
    pub members: Vec<Member>,
    pub config: RaftConfig,
    _dir: TempDir,
}

impl Cluster {
    /// Starts `n` nodes (ids 1..=n) and initializes them as one cluster on node 1.
    pub async fn start(n: u64, config: RaftConfig) -> anyhow::Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let mut members = Vec::new();
        for id in 1..=n {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let member_dir = dir.path().join(format!("node-{id}"));
            let running = serve(id, addr, member_dir.clone(), listener, &config).await?;
            members.push(Member {
                id,
                addr,
                dir: member_dir,
                running: Some(running),
            });
        }
        let cluster = Cluster {
            members,
            config,
            _dir: dir,
        };
        let initial: BTreeMap<u64, String> = cluster
            .members
            .iter()
            .map(|m| (m.id, m.addr.to_string()))
            .collect();
        cluster.node(1)?.initialize(initial).await?;
        Ok(cluster)
    }

    pub fn node(&self, id: u64) -> anyhow::Result<&RaftNode> {
        self.members
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| m.running.as_ref())
            .map(|r| &r.node)
            .with_context(|| format!("node {id} is not running"))
    }

    pub fn running(&self) -> impl Iterator<Item = &RaftNode> {
        self.members
            .iter()
            .filter_map(|m| m.running.as_ref().map(|r| &r.node))
    }

    /// Waits until every running node agrees on one leader (other than `not`) and returns it.
    pub async fn wait_leader(&self, not: Option<u64>) -> anyhow::Result<u64> {
        eventually("a leader", Duration::from_secs(10), || async {
            let leaders: Vec<Option<u64>> = self.running().map(|n| n.metrics().leader).collect();
            match leaders.first() {
                Some(Some(l))
                    if leaders.iter().all(|x| *x == Some(*l))
                        && Some(*l) != not
                        && self.node(*l).is_ok() =>
                {
                    Ok(*l)
                }
                _ => bail!("no agreed leader yet: {leaders:?}"),
            }
        })
        .await
    }

    /// Stops node `id`: its server and its Raft core.
    pub async fn stop(&mut self, id: u64) -> TestResult {
        let member = self
            .members
            .iter_mut()
            .find(|m| m.id == id)
            .context("no such member")?;
        let running = member.running.take().context("already stopped")?;
        running.node.shutdown().await?;
        let _ = running.stop.send(());
        let mut server = running.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
        Ok(())
    }

    /// Restarts node `id` from its data directory on its old address.
    pub async fn restart(&mut self, id: u64) -> TestResult {
        let config = self.config.clone();
        let member = self
            .members
            .iter_mut()
            .find(|m| m.id == id)
            .context("no such member")?;
        // The old core may take a moment to release the log database and the port.
        let deadline = Instant::now() + Duration::from_secs(10);
        let running = loop {
            let attempt = async {
                let listener = tokio::net::TcpListener::bind(member.addr).await?;
                serve(id, member.addr, member.dir.clone(), listener, &config).await
            };
            match attempt.await {
                Ok(r) => break r,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!("restart of node {id} failed, retrying: {e:#}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        };
        member.running = Some(running);
        Ok(())
    }

    /// Waits until every running node has applied at least `index`.
    pub async fn wait_applied(&self, index: u64) -> TestResult {
        eventually("all nodes applied", Duration::from_secs(20), || async {
            let applied: Vec<u64> = self.running().map(|n| n.metrics().applied_index).collect();
            if applied.iter().all(|a| *a >= index) {
                Ok(())
            } else {
                bail!("applied {applied:?} < {index}")
            }
        })
        .await
    }
}

async fn serve(
    id: u64,
    addr: SocketAddr,
    dir: PathBuf,
    listener: tokio::net::TcpListener,
    config: &RaftConfig,
) -> anyhow::Result<Running> {
    let node = RaftNode::open(RaftConfig {
        node_id: id,
        addr: addr.to_string(),
        data_dir: dir,
        ..config.clone()
    })
    .await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let service = node.raft_service();
    let server = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                async {
                    let _ = stopped.await;
                },
            )
            .await
    });
    Ok(Running { node, stop, server })
}

/// Retries `check` every 50 ms until it succeeds or `within` passes.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!("waiting for {what}")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A command that changes the state: registers worker `w-<n>`.
pub fn register(n: u64) -> Command {
    Command::RegisterWorker {
        spec: worker_spec(&format!("w-{n}"), &["linux/amd64"], &[], 1),
        at_ms: n,
    }
}

/// The registered worker names on `node`, sorted.
pub fn worker_names(node: &RaftNode) -> Vec<String> {
    let mut names: Vec<String> =
        node.read(|s| s.workers().map(|w| w.spec.id.to_string()).collect());
    names.sort();
    names
}

pub fn expected_names(range: impl Iterator<Item = u64>) -> Vec<String> {
    let mut names: Vec<String> = range.map(|n| format!("w-{n}")).collect();
    names.sort();
    names
}

/// Writes `cmd` on the leader (following ForwardToLeader once).
pub async fn write_on_leader(cluster: &Cluster, cmd: Command) -> anyhow::Result<Response> {
    let leader = cluster.wait_leader(None).await?;
    match cluster.node(leader)?.write(cmd.clone()).await {
        Err(RaftNodeError::ForwardToLeader {
            leader: Some((id, _)),
        }) => Ok(cluster.node(id)?.write(cmd).await?),
        other => Ok(other?),
    }
}
