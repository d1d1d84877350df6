//! The replicated object store: openraft with its log and state machine on
//! one RocksDB database, one member of a cluster of one or more. Writes go
//! through the leader's Raft log ([`Store::write`], from any member) and are
//! answered after they are durable on a majority and applied here; reads come
//! from the applied state, after [`Store::linearize`] when they must reflect
//! every committed write. Members talk over their own listener ([`peer`]).
//! The store knows nothing of the Kubernetes API or of what the objects mean.

// openraft's storage traits fix the error type (`StorageError`, large);
// the helpers around them return it unboxed to match.
#![allow(clippy::result_large_err)]

mod batcher;
mod codec;
mod db;
mod leader;
mod log_store;
pub mod membership;
pub mod peer;
mod state_machine;
pub mod types;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, Config, SnapshotPolicy};
use rocksdb::{DB, Direction, IteratorMode};
use tokio::net::TcpListener;

pub use membership::Formation;
pub use types::{Command, NodeId, Outcome, Proposal, Raft};

use crate::watch::WatchHub;
use codec::decode_object;
use db::{CF_OBJECTS, cf};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or read.
    #[error("storage: {0}")]
    Storage(String),
    /// Raft could not be started or has stopped.
    #[error("raft: {0}")]
    Raft(String),
    /// The write was not committed (no leader, shutting down).
    #[error("write not committed: {0}")]
    Unavailable(String),
}

/// A `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Events kept for watch resumption, unless configured.
pub const DEFAULT_WATCH_HISTORY: usize = 100_000;

/// Log entries between snapshots, unless configured.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 20_000;

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Where RocksDB keeps its files.
    pub data_dir: PathBuf,
    /// This node's Raft id.
    pub node_id: NodeId,
    /// The address peers reach this node at (recorded in the membership).
    pub advertise: String,
    /// How many events the watch history keeps.
    pub watch_history: usize,
    /// A snapshot is built after this many entries since the last one.
    pub snapshot_every: u64,
    /// Entries kept in the log behind a snapshot (for slow followers).
    pub keep_behind_snapshot: u64,
    /// How the member finds its cluster on first start.
    pub formation: Formation,
    /// Where the peer listener binds; `None` runs none (a single member that cannot grow).
    pub peer_listen: Option<SocketAddr>,
    /// How often the leader sends heartbeats.
    pub heartbeat: Duration,
    /// The election timeout: a follower stands for election after hearing no leader for
    /// the leader's lease (twice this) plus a random time between this and twice this.
    pub election_timeout: Duration,
}

/// Heartbeat interval unless configured.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(100);
/// Election timeout (the lower bound) unless configured. With openraft 0.9's leader lease
/// (the upper bound, twice this) a follower stands for election 0.75 to 1 s after the
/// last heartbeat, so a failover completes within about 1.5 s even after a split vote.
pub const DEFAULT_ELECTION_TIMEOUT: Duration = Duration::from_millis(250);

impl StoreConfig {
    /// Defaults for a single node keeping its data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            node_id: 1,
            advertise: "127.0.0.1:0".into(),
            watch_history: DEFAULT_WATCH_HISTORY,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            keep_behind_snapshot: 1_000,
            formation: Formation::Single,
            peer_listen: None,
            heartbeat: DEFAULT_HEARTBEAT,
            election_timeout: DEFAULT_ELECTION_TIMEOUT,
        }
    }
}

/// One stored object, read as it is needed.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The revision of its last write.
    pub revision: u64,
    record: Vec<u8>,
}

impl Stored {
    /// The object, its `resourceVersion` its revision.
    pub fn object(&self) -> Result<serde_json::Value> {
        codec::read_object(&self.record)
            .map(|(_, object)| object)
            .map_err(StoreError::Storage)
    }
}

/// A handle on the store; clones share it.
#[derive(Clone)]
pub struct Store {
    raft: Raft,
    db: Arc<DB>,
    hub: Arc<WatchHub>,
    batcher: batcher::Batcher,
    leader: leader::Leader,
    peer_addr: Option<SocketAddr>,
    peer_task: Arc<Option<tokio::task::JoinHandle<()>>>,
}

impl Store {
    /// Opens the database, starts Raft and the peer listener, and on first start
    /// forms or joins the cluster as `config.formation` says. A single member
    /// returns once it can take writes; a member of a larger cluster returns at
    /// once (see [`Store::linearize`] to wait until it has caught up).
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            StoreError::Storage(format!("creating {}: {e}", config.data_dir.display()))
        })?;
        let listener = match config.peer_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                StoreError::Raft(format!("cannot listen for peers on {addr}: {e}"))
            })?),
            None => None,
        };
        let peer_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let db = db::open(&config.data_dir).map_err(|e| {
            StoreError::Storage(format!("opening {}: {e}", config.data_dir.display()))
        })?;
        let revision =
            state_machine::applied_revision(&db).map_err(|e| StoreError::Storage(e.to_string()))?;
        let hub = Arc::new(WatchHub::new(config.watch_history, revision));
        let log =
            log_store::LogStore::new(db.clone()).map_err(|e| StoreError::Storage(e.to_string()))?;
        let sm = state_machine::StateMachine::new(db.clone(), hub.clone());
        let peers = peer::client::Peers::new();
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config(config)?),
            peer::client::Network::new(peers.clone(), config.node_id),
            log,
            sm,
        )
        .await
        .map_err(|e| StoreError::Raft(e.to_string()))?;
        let leader = leader::Leader::new(raft.clone(), peers.clone(), config.node_id);
        let peer_task = listener.map(|listener| {
            let service = Arc::new(peer::server::PeerService {
                raft: raft.clone(),
                leader: leader.clone(),
                peers: peers.clone(),
            });
            tokio::spawn(peer::server::serve(listener, service))
        });
        let store = Self {
            batcher: batcher::Batcher::start(leader.clone()),
            raft,
            db,
            hub,
            leader,
            peer_addr,
            peer_task: Arc::new(peer_task),
        };
        store.form(config, peers).await?;
        let voters: Vec<NodeId> = store
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        if voters == [config.node_id] {
            store.wait_leader().await?;
        }
        Ok(store)
    }

    /// On a pristine member, starts the cluster or asks to join one.
    async fn form(&self, config: &StoreConfig, peers: peer::client::Peers) -> Result<()> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| StoreError::Raft(e.to_string()))?;
        if initialized {
            return Ok(());
        }
        let members = match &config.formation {
            Formation::Single => {
                BTreeMap::from([(config.node_id, BasicNode::new(&config.advertise))])
            }
            Formation::Initial(list) => {
                if !list.contains_key(&config.node_id) {
                    return Err(StoreError::Raft(format!(
                        "this member's id {} is not among the initial members {:?}",
                        config.node_id,
                        list.keys().collect::<Vec<_>>()
                    )));
                }
                list.iter()
                    .map(|(id, addr)| (*id, BasicNode::new(addr)))
                    .collect()
            }
            Formation::Join(seed) => {
                let me = peer::wire::AddMember {
                    id: config.node_id,
                    address: config.advertise.clone(),
                    fresh: true,
                };
                tokio::spawn(membership::join(peers, seed.clone(), me));
                return Ok(());
            }
        };
        // Every initial member initializes with the same list; openraft makes that safe.
        match self.raft.initialize(members).await {
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(StoreError::Raft(e.to_string())),
        }
    }

    async fn wait_leader(&self) -> Result<()> {
        let mut metrics = self.raft.metrics();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let m = metrics.borrow_and_update().clone();
            let caught_up = m.last_applied.map(|l| l.index) >= m.last_log_index;
            if m.current_leader == Some(m.id) && caught_up {
                return Ok(());
            }
            tokio::select! {
                changed = metrics.changed() => changed.map_err(|e| StoreError::Raft(e.to_string()))?,
                () = tokio::time::sleep_until(deadline) => {
                    return Err(StoreError::Raft("no leader elected within 30 s".into()));
                }
            }
        }
    }

    /// Proposes a command and waits until it is committed and applied.
    pub async fn write(&self, command: Command) -> Result<Outcome> {
        self.batcher.write(command).await
    }

    /// The object at `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Stored>> {
        let raw = self
            .db
            .get_cf(cf(&self.db, CF_OBJECTS), key)
            .map_err(|e| StoreError::Storage(e.to_string()))?;
        raw.map(|b| to_stored(&b)).transpose()
    }

    /// Visits the objects under `prefix` in key order, starting after
    /// `start_after` (a full key) if given, until `visit` returns false.
    /// Returns the revision the listing was read at.
    pub fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        mut visit: impl FnMut(&str, Stored) -> bool,
    ) -> Result<u64> {
        let snap = self.db.snapshot();
        let revision = {
            let raw = snap
                .get_cf(cf(&self.db, db::CF_SM_META), state_machine::KEY_REVISION)
                .map_err(|e| StoreError::Storage(e.to_string()))?;
            match raw {
                Some(b) => serde_json::from_slice::<u64>(&b)
                    .map_err(|e| StoreError::Storage(e.to_string()))?,
                None => 0,
            }
        };
        let start = start_after.unwrap_or(prefix);
        let iter = snap.iterator_cf(
            cf(&self.db, CF_OBJECTS),
            IteratorMode::From(start.as_bytes(), Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(|e| StoreError::Storage(e.to_string()))?;
            if !k.starts_with(prefix.as_bytes()) {
                break;
            }
            let key = String::from_utf8_lossy(&k);
            if Some(key.as_ref()) == start_after {
                continue;
            }
            if !visit(&key, to_stored(&v)?) {
                break;
            }
        }
        Ok(revision)
    }

    /// Returns once this member's state reflects every write committed before
    /// the call (the leader confirms its read index with a quorum). Reads that
    /// must be linearizable call this first.
    pub async fn linearize(&self) -> Result<()> {
        self.leader.linearize().await
    }

    /// This member's Raft id.
    pub fn id(&self) -> NodeId {
        self.raft.metrics().borrow().id
    }

    /// Where the peer listener listens, if it runs.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// A watch on whether this member is the leader (`true`) or not.
    pub fn leadership(&self) -> tokio::sync::watch::Receiver<bool> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut metrics = self.raft.metrics();
        tokio::spawn(async move {
            loop {
                let leading = {
                    let m = metrics.borrow_and_update();
                    m.current_leader == Some(m.id)
                };
                tx.send_if_modified(|was| std::mem::replace(was, leading) != leading);
                tokio::select! {
                    changed = metrics.changed() => if changed.is_err() { break },
                    () = tx.closed() => break,
                }
            }
        });
        rx
    }

    /// The watch hub fed by this store.
    pub fn hub(&self) -> &Arc<WatchHub> {
        &self.hub
    }

    /// The latest applied revision.
    pub fn revision(&self) -> u64 {
        self.hub.latest()
    }

    /// The Raft handle (metrics, membership).
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Stops the peer listener and Raft.
    pub async fn shutdown(&self) {
        if let Some(task) = self.peer_task.as_ref() {
            task.abort();
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
    }
}

fn raft_config(config: &StoreConfig) -> Result<Config> {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Config {
        cluster_name: "keel".into(),
        heartbeat_interval: millis(config.heartbeat),
        election_timeout_min: millis(config.election_timeout),
        election_timeout_max: millis(config.election_timeout) * 2,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every),
        max_in_snapshot_log_to_keep: config.keep_behind_snapshot,
        ..Default::default()
    }
    .validate()
    .map_err(|e| StoreError::Raft(format!("raft settings: {e}")))
}

fn to_stored(bytes: &[u8]) -> Result<Stored> {
    let (revision, _) = decode_object(bytes)
        .ok_or_else(|| StoreError::Storage("object record shorter than its header".into()))?;
    Ok(Stored {
        revision,
        record: bytes.to_vec(),
    })
}
