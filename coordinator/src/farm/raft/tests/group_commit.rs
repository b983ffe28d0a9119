//! Group commit: concurrent writes share Raft entries, yet each writer gets the response
//! to its own command, and a failed entry fails every writer in it.

use std::time::Duration;

use crate::farm::raft::{RaftConfig, RaftNode, RaftNodeError};
use crate::farm::state::{Command, Response};

use super::harness::{expected_names, register, worker_names, Cluster, TestResult};

fn config() -> RaftConfig {
    RaftConfig {
        write_timeout: Duration::from_secs(10),
        ..RaftConfig::default()
    }
}

/// Spawns one concurrent write per command; results in command order.
async fn write_all(
    node: &RaftNode,
    cmds: Vec<Command>,
) -> anyhow::Result<Vec<Result<Response, RaftNodeError>>> {
    let writes: Vec<_> = cmds
        .into_iter()
        .map(|cmd| {
            let node = node.clone();
            tokio::spawn(async move { node.write(cmd).await })
        })
        .collect();
    let mut results = Vec::new();
    for w in writes {
        results.push(w.await?);
    }
    Ok(results)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_share_entries_and_get_their_own_responses() -> TestResult {
    let cluster = Cluster::start(3, config()).await?;
    let leader = cluster.wait_leader(None).await?;
    let node = cluster.node(leader)?;
    let before = node.metrics().applied_index;

    // Every registration twice: the first applied answers Ok, its duplicate Ignored.
    let workers = 100u64;
    let cmds: Vec<Command> = (0..workers)
        .map(register)
        .flat_map(|c| [c.clone(), c])
        .collect();
    let writes = cmds.len();
    let results = write_all(node, cmds).await?;
    for (n, pair) in results.chunks(2).enumerate() {
        let outcomes: Vec<&str> = pair
            .iter()
            .map(|r| match r {
                Ok(Response::Ok) => "ok",
                Ok(Response::Ignored { .. }) => "ignored",
                _ => "other",
            })
            .collect();
        let mut sorted = outcomes.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["ignored", "ok"], "worker w-{n}: {pair:?}");
    }

    let after = node.metrics().applied_index;
    cluster.wait_applied(after).await?;
    let entries = after - before;
    assert!(
        entries > 0 && entries <= (writes / 2) as u64,
        "{writes} concurrent writes took {entries} raft entries (expected them grouped)"
    );
    for n in cluster.running() {
        assert_eq!(
            worker_names(n),
            expected_names(0..workers),
            "node {}",
            n.node_id()
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_on_a_follower_are_all_forwarded() -> TestResult {
    let cluster = Cluster::start(3, config()).await?;
    let leader = cluster.wait_leader(None).await?;
    let follower = cluster
        .members
        .iter()
        .map(|m| m.id)
        .find(|id| *id != leader)
        .unwrap_or(0);
    let results = write_all(cluster.node(follower)?, (0..50).map(register).collect()).await?;
    for r in &results {
        match r {
            Err(RaftNodeError::ForwardToLeader {
                leader: Some((id, _)),
            }) => assert_eq!(*id, leader),
            other => panic!("expected ForwardToLeader to node {leader}, got {other:?}"),
        }
    }
    assert!(worker_names(cluster.node(follower)?).is_empty());
    Ok(())
}
