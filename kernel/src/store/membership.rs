//! Who is in the cluster and how that changes: forming a cluster from its
//! initial members, joining one, adding a member (a learner that catches up by
//! log or snapshot, then a voter) and removing one, one step at a time through
//! Raft. Changes run on the leader; the peer listener sends them there.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};

use super::peer::client::{CallError, Peers};
use super::peer::wire::{self, AddMember, Member, Status};
use super::types::{NodeId, Raft};

/// How long a new member may take to catch up before it is made a voter.
pub const CATCH_UP_DEADLINE: Duration = Duration::from_secs(300);

/// How a member finds its cluster when it starts with an empty store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Formation {
    /// A cluster of this member alone (it can be grown later if it has a peer listener).
    Single,
    /// A new cluster of these members (id -> peer address), the same list on every one.
    Initial(BTreeMap<NodeId, String>),
    /// Join the cluster a member at this peer address belongs to.
    Join(String),
}

impl Formation {
    /// Parses `--initial-members`: `ID=HOST:PORT` entries separated by commas.
    pub fn parse_initial(text: &str) -> Result<Formation, String> {
        let mut members = BTreeMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, address) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not ID=HOST:PORT"))?;
            let id: NodeId = id
                .trim()
                .parse()
                .map_err(|_| format!("{id:?} in {entry:?} is not a member id (a number)"))?;
            if members.insert(id, address.trim().to_string()).is_some() {
                return Err(format!("member {id} is listed twice"));
            }
        }
        if members.is_empty() {
            return Err("no members listed".into());
        }
        Ok(Formation::Initial(members))
    }
}

/// A refused or failed membership change.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// This member is not the leader.
    #[error("this member is not the leader")]
    NotLeader(Option<String>),
    /// The change makes no sense for this cluster.
    #[error("{0}")]
    Invalid(String),
    /// The change was tried and did not complete.
    #[error("{0}")]
    Failed(String),
}

/// The members of the effective membership.
pub fn members(raft: &Raft) -> Vec<Member> {
    let metrics = raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    membership
        .nodes()
        .map(|(id, node)| Member {
            id: *id,
            address: node.addr.clone(),
            voter: voters.contains(id),
        })
        .collect()
}

/// This member's view of the cluster.
pub fn status(raft: &Raft) -> Status {
    let m = raft.metrics().borrow().clone();
    Status {
        id: m.id,
        leader: m.current_leader,
        term: m.current_term,
        last_log_index: m.last_log_index,
        last_applied: m.last_applied.map(|l| l.index),
        snapshot: m.snapshot.map(|l| l.index),
        purged: m.purged.map(|l| l.index),
        members: members(raft),
        replication: m
            .replication
            .unwrap_or_default()
            .into_iter()
            .map(|(id, log)| (id, log.map(|l| l.index)))
            .collect(),
    }
}

/// `Err(NotLeader)` unless this member leads (changes are made on the leader).
fn ensure_leader(raft: &Raft) -> Result<(), MemberError> {
    let m = raft.metrics().borrow().clone();
    if m.current_leader == Some(m.id) {
        Ok(())
    } else {
        Err(not_leader(raft))
    }
}

fn not_leader(raft: &Raft) -> MemberError {
    let m = raft.metrics().borrow().clone();
    let address = m
        .current_leader
        .and_then(|id| m.membership_config.membership().get_node(&id).cloned())
        .map(|n| n.addr);
    MemberError::NotLeader(address)
}

fn change_error(
    raft: &Raft,
    e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>,
) -> MemberError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => not_leader(raft),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            MemberError::Invalid(e.to_string())
        }
        e => MemberError::Failed(e.to_string()),
    }
}

/// Adds a member: as a learner, waiting until it has caught up, then as a voter.
/// Adding a member that is already a voter at the same address changes nothing.
pub async fn add(raft: &Raft, request: &AddMember) -> Result<Vec<Member>, MemberError> {
    if request.address.trim().is_empty() {
        return Err(MemberError::Invalid("a member needs a peer address".into()));
    }
    ensure_leader(raft)?;
    if let Some(existing) = members(raft).into_iter().find(|m| m.id == request.id) {
        if existing.address != request.address {
            return Err(MemberError::Invalid(format!(
                "member {} already exists at {}; remove it first to move it to {}",
                request.id, existing.address, request.address
            )));
        }
        if existing.voter && !request.fresh {
            return Ok(members(raft));
        }
        if request.fresh {
            // It lost its log: it leaves the cluster (so it never votes with a log it
            // lost, and the leader forgets how far it had replicated to it) and comes back
            // below as a new learner that catches up from a snapshot.
            let gone = if existing.voter {
                ChangeMembers::RemoveVoters(BTreeSet::from([request.id]))
            } else {
                ChangeMembers::RemoveNodes(BTreeSet::from([request.id]))
            };
            raft.change_membership(gone, false)
                .await
                .map_err(|e| change_error(raft, e))?;
        }
    }
    let node = BasicNode::new(&request.address);
    let learner = raft.add_learner(request.id, node, true);
    match tokio::time::timeout(CATCH_UP_DEADLINE, learner).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(change_error(raft, e)),
        Err(_) => {
            return Err(MemberError::Failed(format!(
                "member {} did not catch up within {} s; it stays a learner",
                request.id,
                CATCH_UP_DEADLINE.as_secs()
            )));
        }
    }
    raft.change_membership(
        ChangeMembers::AddVoterIds(BTreeSet::from([request.id])),
        false,
    )
    .await
    .map_err(|e| change_error(raft, e))?;
    Ok(members(raft))
}

/// Removes a member (voter or learner). The last voter cannot be removed.
pub async fn remove(raft: &Raft, id: NodeId) -> Result<Vec<Member>, MemberError> {
    ensure_leader(raft)?;
    let current = members(raft);
    let Some(member) = current.iter().find(|m| m.id == id) else {
        return Err(MemberError::Invalid(format!(
            "member {id} is not in the cluster"
        )));
    };
    if member.voter && current.iter().filter(|m| m.voter).count() == 1 {
        return Err(MemberError::Invalid(format!(
            "member {id} is the last voter; a cluster cannot remove its last voter"
        )));
    }
    let change = if member.voter {
        ChangeMembers::RemoveVoters(BTreeSet::from([id]))
    } else {
        ChangeMembers::RemoveNodes(BTreeSet::from([id]))
    };
    raft.change_membership(change, false)
        .await
        .map_err(|e| change_error(raft, e))?;
    Ok(members(raft))
}

/// Asks the cluster a member at `seed` belongs to to add this member, until it
/// has (the seed hands the request to its leader). Runs in the background of a
/// joining member's start.
pub async fn join(peers: Peers, seed: String, me: AddMember) {
    let body = match serde_json::to_vec(&me) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot encode the join request: {e}");
            return;
        }
    };
    let mut pause = Duration::from_millis(200);
    loop {
        let answer = peers
            .exchange(
                http::Method::POST,
                &seed,
                wire::MEMBERS,
                body.clone(),
                "application/json",
                CATCH_UP_DEADLINE + Duration::from_secs(30),
            )
            .await;
        match answer {
            Ok(_) => {
                tracing::info!(id = me.id, %seed, "joined the cluster");
                return;
            }
            // Refused for good (this id is taken at another address, say): asking again
            // would change nothing; the operator has to.
            Err(e @ CallError::Answered { status, .. }) if status.is_client_error() => {
                tracing::error!(id = me.id, %seed, "the cluster refused to add this member: {e}");
                return;
            }
            Err(e) => {
                tracing::warn!(id = me.id, %seed, "joining: {e}; asking again in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}
