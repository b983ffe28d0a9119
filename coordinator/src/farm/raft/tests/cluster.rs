//! Three nodes over real tonic on 127.0.0.1: replication, fail-over, restart from disk
//! (log replay and snapshot install), and a partitioned node.

use std::time::Duration;

use crate::farm::raft::{RaftConfig, RaftNodeError, Role};
use crate::farm::state::Response;

use super::harness::{
    eventually, expected_names, register, worker_names, write_on_leader, Cluster, TestResult,
};

fn config() -> RaftConfig {
    RaftConfig {
        write_timeout: Duration::from_secs(3),
        ..RaftConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicates_fails_over_and_restarted_node_catches_up() -> TestResult {
    let mut cluster = Cluster::start(3, config()).await?;
    let leader = cluster.wait_leader(None).await?;
    for n in 0..20 {
        assert_eq!(
            cluster.node(leader)?.write(register(n)).await?,
            Response::Ok
        );
    }
    let applied = cluster.node(leader)?.metrics().applied_index;
    cluster.wait_applied(applied).await?;
    for node in cluster.running() {
        assert_eq!(
            worker_names(node),
            expected_names(0..20),
            "node {}",
            node.node_id()
        );
    }

    // A follower refuses writes and names the leader.
    let follower = cluster
        .members
        .iter()
        .map(|m| m.id)
        .find(|id| *id != leader)
        .unwrap_or(0);
    match cluster.node(follower)?.write(register(99)).await {
        Err(RaftNodeError::ForwardToLeader {
            leader: Some((id, addr)),
        }) => {
            assert_eq!(id, leader);
            assert_eq!(
                Some(addr.as_str()),
                cluster.node(follower)?.metrics().addr_of(leader)
            );
        }
        other => panic!("follower write: expected ForwardToLeader, got {other:?}"),
    }
    let info = cluster.node(follower)?.metrics();
    assert_eq!(info.members.len(), 3);
    assert!(info.members.iter().all(|m| m.voter));
    assert_eq!(info.role, Role::Follower);

    // Kill the leader: a new one is elected and writes continue.
    cluster.stop(leader).await?;
    let new_leader = cluster.wait_leader(Some(leader)).await?;
    assert_ne!(new_leader, leader);
    for n in 20..30 {
        assert_eq!(write_on_leader(&cluster, register(n)).await?, Response::Ok);
    }

    // The old leader restarts from its data dir (no initialize) and catches up.
    cluster.restart(leader).await?;
    let applied = cluster.node(new_leader)?.metrics().applied_index;
    cluster.wait_applied(applied).await?;
    for node in cluster.running() {
        assert_eq!(
            worker_names(node),
            expected_names(0..30),
            "node {}",
            node.node_id()
        );
    }
    assert!(cluster.node(leader)?.is_initialized().await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarted_node_catches_up_from_a_snapshot() -> TestResult {
    let mut cluster = Cluster::start(
        3,
        RaftConfig {
            snapshot_every_logs: 10,
            logs_kept_after_snapshot: 0,
            ..config()
        },
    )
    .await?;
    let leader = cluster.wait_leader(None).await?;
    let follower = cluster
        .members
        .iter()
        .map(|m| m.id)
        .find(|id| *id != leader)
        .unwrap_or(0);
    cluster.stop(follower).await?;
    let stopped_at = cluster.node(leader)?.metrics().applied_index;

    for n in 0..60 {
        assert_eq!(write_on_leader(&cluster, register(n)).await?, Response::Ok);
    }
    // The leader has snapshotted and purged past everything the follower has.
    let leader_node = cluster.node(leader)?;
    eventually("leader purges its log", Duration::from_secs(10), || async {
        let purged = leader_node.raft.metrics().borrow().purged.map(|l| l.index);
        match purged {
            Some(p) if p > stopped_at => Ok(()),
            _ => anyhow::bail!("purged {purged:?}, follower stopped at {stopped_at}"),
        }
    })
    .await?;

    cluster.restart(follower).await?;
    let applied = cluster.node(leader)?.metrics().applied_index;
    cluster.wait_applied(applied).await?;
    let restarted = cluster.node(follower)?;
    assert_eq!(worker_names(restarted), expected_names(0..60));
    let snapshot = restarted.raft.metrics().borrow().snapshot;
    assert!(
        snapshot.is_some(),
        "the restarted follower installed a snapshot"
    );

    // The whole cluster restarts: each node loads its own snapshot and replays its log.
    let ids: Vec<u64> = cluster.members.iter().map(|m| m.id).collect();
    for id in &ids {
        cluster.stop(*id).await?;
    }
    for id in &ids {
        cluster.restart(*id).await?;
    }
    cluster.wait_leader(None).await?;
    assert_eq!(write_on_leader(&cluster, register(60)).await?, Response::Ok);
    let applied = cluster
        .node(cluster.wait_leader(None).await?)?
        .metrics()
        .applied_index;
    cluster.wait_applied(applied).await?;
    for node in cluster.running() {
        assert_eq!(
            worker_names(node),
            expected_names(0..61),
            "node {}",
            node.node_id()
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn isolated_node_cannot_commit_and_catches_up_when_healed() -> TestResult {
    let cluster = Cluster::start(3, config()).await?;
    let leader = cluster.wait_leader(None).await?;
    for n in 0..5 {
        assert_eq!(
            cluster.node(leader)?.write(register(n)).await?,
            Response::Ok
        );
    }

    // Cut the leader off: its write cannot commit.
    let isolated = cluster.node(leader)?;
    isolated.set_isolated(true);
    match isolated.write(register(100)).await {
        Err(RaftNodeError::Timeout { .. } | RaftNodeError::ForwardToLeader { .. }) => {}
        other => panic!("isolated write: expected Timeout or ForwardToLeader, got {other:?}"),
    }
    assert!(
        isolated.ensure_linearizable().await.is_err(),
        "an isolated leader cannot confirm leadership"
    );

    // The other two elect a leader and keep committing.
    let others: Vec<u64> = cluster
        .members
        .iter()
        .map(|m| m.id)
        .filter(|id| *id != leader)
        .collect();
    let new_leader = eventually(
        "a new leader among the others",
        Duration::from_secs(10),
        || async {
            for id in &others {
                let info = cluster.node(*id)?.metrics();
                if info.role == Role::Leader {
                    return Ok(*id);
                }
            }
            anyhow::bail!("no leader among {others:?}")
        },
    )
    .await?;
    for n in 5..15 {
        assert_eq!(
            cluster.node(new_leader)?.write(register(n)).await?,
            Response::Ok
        );
    }
    cluster.node(new_leader)?.ensure_linearizable().await?;
    assert_eq!(
        worker_names(isolated),
        expected_names(0..5),
        "the isolated node applied nothing new"
    );

    // Heal: the old leader follows, drops its uncommitted entry and catches up.
    isolated.set_isolated(false);
    let applied = cluster.node(new_leader)?.metrics().applied_index;
    cluster.wait_applied(applied).await?;
    let agreed = cluster.wait_leader(None).await?;
    assert_ne!(agreed, leader);
    for node in cluster.running() {
        assert_eq!(
            worker_names(node),
            expected_names(0..15),
            "node {}",
            node.node_id()
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_join_and_leave() -> TestResult {
    let mut cluster = Cluster::start(3, config()).await?;
    let leader = cluster.wait_leader(None).await?;
    // Remove a follower, write, add it back as a voter: it catches up.
    let follower = cluster
        .members
        .iter()
        .map(|m| m.id)
        .find(|id| *id != leader)
        .unwrap_or(0);
    let info = cluster.node(leader)?.remove_node(follower).await?;
    assert!(info.members.iter().all(|m| m.id != follower));
    assert!(matches!(
        cluster.node(leader)?.remove_node(follower).await,
        Err(RaftNodeError::UnknownNode { .. })
    ));
    for n in 0..5 {
        assert_eq!(
            cluster.node(leader)?.write(register(n)).await?,
            Response::Ok
        );
    }
    let addr = cluster
        .members
        .iter()
        .find(|m| m.id == follower)
        .map(|m| m.addr.to_string())
        .unwrap_or_default();
    let info = cluster.node(leader)?.add_node(follower, addr).await?;
    assert!(info.members.iter().any(|m| m.id == follower && m.voter));
    let applied = cluster.node(leader)?.metrics().applied_index;
    cluster.wait_applied(applied).await?;
    assert_eq!(worker_names(cluster.node(follower)?), expected_names(0..5));
    // Initializing again is refused; so is an initialize without this node itself.
    assert!(cluster
        .node(leader)?
        .initialize(Default::default())
        .await
        .is_err());
    cluster.stop(follower).await?;
    Ok(())
}
