//! The replicated object store: openraft with its log and state machine on
//! one RocksDB database. Writes go through Raft ([`Store::write`]) and are
//! answered after they are durable and applied; reads come from the applied
//! state. The store knows nothing of HTTP or of what the objects mean.

// openraft's storage traits fix the error type (`StorageError`, large);
// the helpers around them return it unboxed to match.
#![allow(clippy::result_large_err)]

mod batcher;
mod codec;
mod db;
mod log_store;
mod network;
mod state_machine;
pub mod types;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use openraft::{BasicNode, Config, SnapshotPolicy};
use rocksdb::{DB, Direction, IteratorMode};

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
}

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
        }
    }
}

/// One stored object.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The revision of its last write.
    pub revision: u64,
    /// Its JSON.
    pub json: Vec<u8>,
}

/// A handle on the store; clones share it.
#[derive(Clone)]
pub struct Store {
    raft: Raft,
    db: Arc<DB>,
    hub: Arc<WatchHub>,
    batcher: batcher::Batcher,
}

impl Store {
    /// Opens the database, starts Raft, and on first start initialises a
    /// single-member cluster. Returns once this node can take writes.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            StoreError::Storage(format!("creating {}: {e}", config.data_dir.display()))
        })?;
        let db = db::open(&config.data_dir).map_err(|e| {
            StoreError::Storage(format!("opening {}: {e}", config.data_dir.display()))
        })?;
        let revision =
            state_machine::applied_revision(&db).map_err(|e| StoreError::Storage(e.to_string()))?;
        let hub = Arc::new(WatchHub::new(config.watch_history, revision));
        let log =
            log_store::LogStore::new(db.clone()).map_err(|e| StoreError::Storage(e.to_string()))?;
        let sm = state_machine::StateMachine::new(db.clone(), hub.clone());
        let raft_config = Config {
            cluster_name: "keel".into(),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every),
            max_in_snapshot_log_to_keep: config.keep_behind_snapshot,
            ..Default::default()
        }
        .validate()
        .map_err(|e| StoreError::Raft(e.to_string()))?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            network::SingleMember,
            log,
            sm,
        )
        .await
        .map_err(|e| StoreError::Raft(e.to_string()))?;
        if !raft
            .is_initialized()
            .await
            .map_err(|e| StoreError::Raft(e.to_string()))?
        {
            let members = BTreeMap::from([(config.node_id, BasicNode::new(&config.advertise))]);
            raft.initialize(members)
                .await
                .map_err(|e| StoreError::Raft(e.to_string()))?;
        }
        let batcher = batcher::Batcher::start(raft.clone());
        let store = Self {
            raft,
            db,
            hub,
            batcher,
        };
        store.wait_leader().await?;
        Ok(store)
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

    /// Stops Raft.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
    }
}

fn to_stored(bytes: &[u8]) -> Result<Stored> {
    let (revision, json) = decode_object(bytes)
        .ok_or_else(|| StoreError::Storage("object record shorter than its header".into()))?;
    Ok(Stored {
        revision,
        json: json.to_vec(),
    })
}
