//! What members send each other: the paths of the peer listener, the request
//! and answer types beyond openraft's own, and their encoding (postcard, so
//! log entries and snapshot chunks travel as bytes, not as JSON arrays).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::types::{NodeId, Outcome, Proposal};

/// openraft's AppendEntries.
pub const APPEND: &str = "/raft/append";
/// openraft's RequestVote.
pub const VOTE: &str = "/raft/vote";
/// One chunk of a snapshot.
pub const SNAPSHOT: &str = "/raft/snapshot";
/// A proposal a member hands to the leader ([`Proposal`] in, [`Forwarded`] out).
pub const FORWARD: &str = "/raft/forward";
/// The leader's read index, for a linearizable read on another member.
pub const READ_INDEX: &str = "/raft/read-index";
/// Membership: `GET` lists, `POST` adds ([`AddMember`]), `DELETE /raft/members/ID` removes.
pub const MEMBERS: &str = "/raft/members";
/// This member's view of the cluster ([`Status`], JSON, for operators and tests).
pub const STATUS: &str = "/raft/status";

/// The content type of postcard bodies.
pub const POSTCARD: &str = "application/x-keel-postcard";

/// Encodes a message.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(value).map_err(|e| format!("encoding a peer message: {e}"))
}

/// Decodes a message.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("decoding a peer message: {e}"))
}

/// Why the leader did not take a forwarded proposal, or a member could not
/// answer a read index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The receiver is not the leader and did not propose anything: safe to
    /// send again to the leader named, if any.
    #[error("member {receiver} is not the leader (leader: {leader:?})")]
    NotLeader {
        /// The member that refused.
        receiver: NodeId,
        /// The leader it knows of.
        leader: Option<(NodeId, String)>,
    },
    /// The receiver proposed it and does not know whether it committed
    /// (leadership lost, shutting down): not safe to send again.
    #[error("the outcome is unknown: {0}")]
    Indeterminate(String),
    /// The request was malformed or refused before anything was proposed.
    #[error("{0}")]
    Rejected(String),
}

/// The answer to a forwarded proposal: one outcome per command, in order.
pub type Forwarded = Result<Vec<Outcome>, Refusal>;

/// The answer to a read-index request: the log index a linearizable read must
/// wait for the local state machine to reach (`None`: an empty log).
pub type ReadIndex = Result<Option<u64>, Refusal>;

/// A forwarded proposal (the name keeps the payload type in one place).
pub type Forward = Proposal;

/// A request to add a member: it joins as a learner, catches up, then votes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AddMember {
    /// Its Raft id.
    pub id: NodeId,
    /// Its peer address (`host:port`).
    pub address: String,
    /// The member has no state (a first start, or a wiped disk): if it is already a
    /// voter, it is made a learner until it has caught up again, so it never votes
    /// with a log it has lost.
    #[serde(default)]
    pub fresh: bool,
}

/// One member of the cluster as [`Status`] shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// Its Raft id.
    pub id: NodeId,
    /// Its peer address.
    pub address: String,
    /// Whether it votes (otherwise a learner).
    pub voter: bool,
}

/// A member's view of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// This member's id.
    pub id: NodeId,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Its current term.
    pub term: u64,
    /// The last log index it holds.
    pub last_log_index: Option<u64>,
    /// The last log index its state machine applied.
    pub last_applied: Option<u64>,
    /// The members of the effective membership, by id.
    pub members: Vec<Member>,
    /// The last log index in its latest snapshot.
    pub snapshot: Option<u64>,
    /// The last log index it has purged (entries it can only send as a snapshot).
    pub purged: Option<u64>,
    /// Per-member replication progress as the leader sees it (only on the leader).
    pub replication: BTreeMap<NodeId, Option<u64>>,
}
