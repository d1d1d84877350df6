//! Group commit at proposal time. openraft 0.9 makes each log append durable
//! before it starts the next, so one write per entry would cost one fsync per
//! write. The batcher proposes the writes that queued up while the previous
//! proposal was in flight as one entry (through the leader, wherever it is);
//! the state machine still gives each write its own revision.

use tokio::sync::{mpsc, oneshot};

use super::leader::Leader;
use super::types::{Command, Outcome, Proposal};
use super::{Result, StoreError};

/// The most writes in one entry.
const MAX_BATCH: usize = 512;
/// Stop adding writes to an entry once their objects pass this many bytes
/// (one write may be up to the API's 3 MiB body limit on its own).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

type Pending = (Command, oneshot::Sender<Result<Outcome>>);

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<Pending>,
}

impl Batcher {
    /// Starts the batching task, proposing through `leader`.
    pub fn start(leader: Leader) -> Self {
        let (tx, rx) = mpsc::channel::<Pending>(4 * MAX_BATCH);
        tokio::spawn(run(leader, rx));
        Self { tx }
    }

    /// Proposes one write and waits for its outcome.
    pub async fn write(&self, command: Command) -> Result<Outcome> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((command, done))
            .await
            .map_err(|_| StoreError::Unavailable("the store is shutting down".into()))?;
        wait.await.map_err(|_| {
            StoreError::Unavailable("the store stopped before the write was committed".into())
        })?
    }
}

async fn run(leader: Leader, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut bytes = first.0.size();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(p) => {
                    bytes += p.0.size();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let (commands, waiters): (Vec<Command>, Vec<_>) = batch.into_iter().unzip();
        let count = commands.len();
        match leader.propose(Proposal(commands)).await {
            Ok(outcomes) if outcomes.len() == count => {
                for (outcome, waiter) in outcomes.into_iter().zip(waiters) {
                    let _ = waiter.send(Ok(outcome));
                }
            }
            Ok(outcomes) => {
                let msg = format!(
                    "the state machine answered {} outcomes for {count} writes",
                    outcomes.len()
                );
                tracing::error!("{msg}");
                for waiter in waiters {
                    let _ = waiter.send(Err(StoreError::Raft(msg.clone())));
                }
            }
            Err(e) => {
                for waiter in waiters {
                    let _ = waiter.send(Err(StoreError::Unavailable(e.to_string())));
                }
            }
        }
    }
}
