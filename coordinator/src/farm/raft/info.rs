//! Cluster status as the rest of the coordinator sees it (no openraft types).

use openraft::{BasicNode, RaftMetrics, ServerState};

use super::types::NodeId;

/// This node's role in the Raft group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    Learner,
    Shutdown,
}

/// A member of the cluster's current membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    pub id: NodeId,
    pub addr: String,
    /// `false` for a learner (replicated to, not voting).
    pub voter: bool,
}

/// A view of the cluster from one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    pub node_id: NodeId,
    pub role: Role,
    pub leader: Option<NodeId>,
    pub term: u64,
    /// Index of the last committed log entry this node knows of (0 when none).
    pub commit_index: u64,
    /// Index of the last log entry applied to this node's state (0 when none).
    pub applied_index: u64,
    pub members: Vec<MemberInfo>,
}

impl ClusterInfo {
    /// The address of member `id`, when it is a member.
    pub fn addr_of(&self, id: NodeId) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.addr.as_str())
    }

    /// The leader's id and address, when known.
    pub fn leader_addr(&self) -> Option<(NodeId, String)> {
        let id = self.leader?;
        self.addr_of(id).map(|a| (id, a.to_string()))
    }

    /// `applied_index` comes from the state machine itself: openraft publishes its metrics a
    /// little after a write's response.
    pub(crate) fn from_metrics(
        m: &RaftMetrics<NodeId, BasicNode>,
        commit_index: u64,
        applied_index: u64,
    ) -> Self {
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, node)| MemberInfo {
                id: *id,
                addr: node.addr.clone(),
                voter: voters.contains(id),
            })
            .collect();
        let role = match m.state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        ClusterInfo {
            node_id: m.id,
            role,
            leader: m.current_leader,
            term: m.current_term,
            // The saved committed index can lag applied by one save; never report less.
            commit_index: commit_index.max(applied_index),
            applied_index,
            members,
        }
    }
}
