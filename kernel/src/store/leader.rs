//! Getting what only the leader can do done from any member: proposing a
//! write and confirming a read index. On the leader both run locally; on a
//! follower they are sent to the leader over the peer transport. While there
//! is no leader (an election) callers wait a bounded time for one, and a call
//! that provably reached no leader's log is sent again; one whose fate is
//! unknown is reported as such, never repeated.

use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use tokio::time::Instant;

use super::peer::client::{CallError, Peers};
use super::peer::wire::{self, Forwarded, ReadIndex, Refusal};
use super::types::{NodeId, Outcome, Proposal, Raft};
use super::{Result, StoreError};

/// How long a call waits for a leader to be elected before giving up.
pub const LEADER_WAIT: Duration = Duration::from_secs(10);
/// How long a proposal may take to commit once the leader has it.
pub const COMMIT_DEADLINE: Duration = Duration::from_secs(10);
/// How long a read-index confirmation may take.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// The pause before asking again after a refusal (a new leader is settling in).
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Routes leader-only work; cheap to clone.
#[derive(Clone)]
pub struct Leader {
    raft: Raft,
    peers: Peers,
    me: NodeId,
}

/// Where the leader is.
enum Whereabouts {
    Here,
    At(String),
}

impl Leader {
    /// Routes for the member `me` running `raft`.
    pub fn new(raft: Raft, peers: Peers, me: NodeId) -> Leader {
        Leader { raft, peers, me }
    }

    /// Waits (until `until`) for a leader whose address is known.
    async fn find(&self, until: Instant) -> Result<Whereabouts> {
        let mut metrics = self.raft.metrics();
        loop {
            {
                let m = metrics.borrow_and_update();
                match m.current_leader {
                    Some(id) if id == self.me => return Ok(Whereabouts::Here),
                    Some(id) => {
                        if let Some(node) = m.membership_config.membership().get_node(&id) {
                            return Ok(Whereabouts::At(node.addr.clone()));
                        }
                    }
                    None => {}
                }
            }
            tokio::select! {
                changed = metrics.changed() => changed.map_err(|_| StoreError::Unavailable("raft has stopped".into()))?,
                () = tokio::time::sleep_until(until) => {
                    return Err(StoreError::Unavailable(format!(
                        "no leader elected within {} s; is a majority of members up and connected?",
                        LEADER_WAIT.as_secs()
                    )));
                }
            }
        }
    }

    /// Commits `proposal` through the leader and returns its outcomes.
    pub async fn propose(&self, proposal: Proposal) -> Result<Vec<Outcome>> {
        let until = Instant::now() + LEADER_WAIT;
        loop {
            let answer = match self.find(until).await? {
                Whereabouts::Here => self.propose_here(proposal.clone()).await,
                Whereabouts::At(address) => self
                    .peers
                    .call::<_, Forwarded>(&address, wire::FORWARD, &proposal, COMMIT_DEADLINE)
                    .await
                    .unwrap_or_else(|e| Err(call_refusal(e))),
            };
            match answer {
                Ok(outcomes) => return Ok(outcomes),
                Err(Refusal::NotLeader { .. }) if Instant::now() < until => {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(e) => return Err(StoreError::Unavailable(e.to_string())),
            }
        }
    }

    /// Proposes on this member, which must be the leader.
    pub async fn propose_here(&self, proposal: Proposal) -> Forwarded {
        let write = self.raft.client_write(proposal);
        match tokio::time::timeout(COMMIT_DEADLINE, write).await {
            Ok(Ok(response)) => Ok(response.data),
            // openraft answers ForwardToLeader only for a proposal it did not append, or
            // whose entry was truncated away: it will never apply.
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(self.not_leader(f))
            }
            Ok(Err(e)) => Err(Refusal::Indeterminate(e.to_string())),
            Err(_) => Err(Refusal::Indeterminate(format!(
                "not committed within {} s",
                COMMIT_DEADLINE.as_secs()
            ))),
        }
    }

    /// Returns once this member's state machine reflects every write committed
    /// before the call: a linearizable read may then read local state.
    pub async fn linearize(&self) -> Result<()> {
        let until = Instant::now() + LEADER_WAIT;
        let index = loop {
            let answer = match self.find(until).await? {
                Whereabouts::Here => self.read_index_here().await,
                Whereabouts::At(address) => self
                    .peers
                    .call::<_, ReadIndex>(&address, wire::READ_INDEX, &(), READ_DEADLINE)
                    .await
                    .unwrap_or_else(|e| Err(call_refusal(e))),
            };
            match answer {
                Ok(index) => break index,
                Err(Refusal::NotLeader { .. }) | Err(Refusal::Indeterminate(_))
                    if Instant::now() < until =>
                {
                    // A read has no effect, so asking again is always safe.
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(e) => return Err(StoreError::Unavailable(e.to_string())),
            }
        };
        if index.is_none() {
            return Ok(());
        }
        self.raft
            .wait(Some(READ_DEADLINE))
            .applied_index_at_least(index, "linearizable read")
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(format!("catching up to the leader: {e}")))
    }

    /// openraft's "not the leader" as this member's refusal.
    fn not_leader(&self, f: ForwardToLeader<NodeId, BasicNode>) -> Refusal {
        Refusal::NotLeader {
            receiver: self.me,
            leader: f.leader_id.zip(f.leader_node.map(|n| n.addr)),
        }
    }

    /// The read index, confirmed with a quorum, on this member as leader.
    pub async fn read_index_here(&self) -> ReadIndex {
        let check = self.raft.get_read_log_id();
        match tokio::time::timeout(READ_DEADLINE, check).await {
            Ok(Ok((read, _applied))) => Ok(read.map(|l| l.index)),
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => {
                Err(self.not_leader(f))
            }
            Ok(Err(e)) => Err(Refusal::Indeterminate(e.to_string())),
            Err(_) => Err(Refusal::Indeterminate(format!(
                "leadership not confirmed by a quorum within {} s",
                READ_DEADLINE.as_secs()
            ))),
        }
    }
}

/// A failed call as a refusal: nothing sent is as good as a leader that moved.
fn call_refusal(e: CallError) -> Refusal {
    if e.nothing_sent() {
        Refusal::NotLeader {
            receiver: 0,
            leader: None,
        }
    } else {
        Refusal::Indeterminate(e.to_string())
    }
}
