//! The Raft log on RocksDB, with group commit: entries are written to the
//! database as they arrive (visible to readers at once), and one syncer thread
//! fsyncs the write-ahead log for every append waiting, then tells openraft
//! they are durable. Concurrent writers share one fsync; none is acknowledged
//! before its entry is on disk.
//!
//! The syncer runs at a higher priority ([`SYNCER_NICE`]) where the process may raise it:
//! every write in the cluster waits for its fsync, and at the default priority a woken
//! syncer waited for a CPU behind busy API threads.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::Arc;
use std::sync::mpsc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError, Vote};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch, WriteOptions};

use super::codec::{decode_entry, encode_entry};
use super::db::{CF_LOGS, CF_RAFT_META, cf, index_key, key_index};
use super::types::{Entry, LogId, NodeId, StorageError, TypeConfig};

/// The syncer thread's nice value. It spends its time waiting on the disk, but when an
/// append wakes it, it must run at once. In the scheduler bench (2 vCPUs, the API's
/// threads busy) the wake took about 260 us at nice 0, of a commit round of about 1.2 ms;
/// at -10 the bench bound 10,270-10,300 pods/s against 9,400-9,970.
const SYNCER_NICE: i32 = -10;

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// The log store; cheap to clone (readers share the database).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    syncer: Arc<Syncer>,
}

/// The syncer thread and the way to it. When the last log store handle goes, the thread is
/// told to end and waited for, so the database handle it holds is gone before that drop
/// returns (a process that exits right after must not close RocksDB under a live thread).
struct Syncer {
    appends: Option<mpsc::Sender<LogFlushed<TypeConfig>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    /// Hands an append's callback to the thread, which calls it once the WAL is synced.
    fn submit(&self, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError> {
        let stopped = || {
            StorageIOError::write_logs(&std::io::Error::other("log syncer thread has stopped"))
                .into()
        };
        let Some(appends) = &self.appends else {
            return Err(stopped());
        };
        appends.send(callback).map_err(|_| stopped())
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop after the batch it is syncing.
        drop(self.appends.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the log syncer thread panicked");
        }
    }
}

impl LogStore {
    /// A log store on `db`, starting its syncer thread.
    pub fn new(db: Arc<DB>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<LogFlushed<TypeConfig>>();
        let sync_db = db.clone();
        let thread = std::thread::Builder::new()
            .name("keel-log-sync".into())
            .spawn(move || sync_loop(&sync_db, &rx))?;
        let syncer = Arc::new(Syncer {
            appends: Some(tx),
            thread: Some(thread),
        });
        Ok(Self { db, syncer })
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        let raw = self
            .db
            .get_cf(cf(&self.db, CF_RAFT_META), key)
            .map_err(|e| StorageIOError::read(&e))?;
        match raw {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StorageIOError::read(&e).into()),
        }
    }

    fn put_meta<T: serde::Serialize>(&self, key: &[u8], value: &T) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StorageIOError::write(&e))?;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db
            .put_cf_opt(cf(&self.db, CF_RAFT_META), key, bytes, &opts)
            .map_err(|e| StorageIOError::write(&e).into())
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, StorageError> {
        let mut it = self
            .db
            .iterator_cf(cf(&self.db, CF_LOGS), IteratorMode::End);
        match it.next() {
            None => Ok(None),
            Some(item) => {
                let (_, value) = item.map_err(|e| StorageIOError::read_logs(&e))?;
                let entry = decode_entry(&value).map_err(read_error)?;
                Ok(Some(entry.log_id))
            }
        }
    }
}

/// Drains every pending append, fsyncs the WAL once, and completes them.
fn sync_loop(db: &DB, rx: &mpsc::Receiver<LogFlushed<TypeConfig>>) {
    // Raising a priority needs CAP_SYS_NICE (or RLIMIT_NICE); without it the syncer runs
    // at the process's own.
    if let Err(e) = rustix::process::setpriority_process(None, SYNCER_NICE) {
        tracing::debug!("log syncer stays at the process's priority: {e}");
    }
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let started = std::time::Instant::now();
        let result = db.flush_wal(true).map_err(std::io::Error::other);
        tracing::trace!(
            appends = batch.len(),
            sync_us = started.elapsed().as_micros() as u64,
            "log sync"
        );
        for cb in batch {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            cb.log_io_completed(r);
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i + 1,
            Bound::Unbounded => 0,
        };
        let mode = IteratorMode::From(&index_key(start), Direction::Forward);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(cf(&self.db, CF_LOGS), mode) {
            let (key, value) = item.map_err(|e| StorageIOError::read_logs(&e))?;
            let Some(index) = key_index(&key) else {
                continue;
            };
            // Only the contiguous run from `start`: entries below `start`'s successor that
            // were purged must not be replaced by later ones (a leader would send them as
            // if they followed the entry before `start`). An empty answer makes openraft
            // probe again and fall back to a snapshot.
            if !range.contains(&index) || index != start + out.len() as u64 {
                break;
            }
            out.push(decode_entry(&value).map_err(read_error)?);
        }
        Ok(out)
    }
}

/// A log entry that could not be decoded, as openraft's read error.
fn read_error(message: String) -> StorageError {
    StorageIOError::read_logs(&std::io::Error::other(message)).into()
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta(KEY_LAST_PURGED)?;
        let last = self.last_entry_id()?.or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.put_meta(KEY_VOTE, vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.get_meta(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not synced on its own: it rides the next WAL sync. Losing it only
        // means re-deriving the commit point from the log after a crash.
        let bytes = serde_json::to_vec(&committed).map_err(|e| StorageIOError::write(&e))?;
        self.db
            .put_cf(cf(&self.db, CF_RAFT_META), KEY_COMMITTED, bytes)
            .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let logs = cf(&self.db, CF_LOGS);
        let mut batch = WriteBatch::default();
        for entry in entries {
            let bytes = encode_entry(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            batch.put_cf(logs, index_key(entry.log_id.index), bytes);
        }
        self.db
            .write(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        self.syncer.submit(callback)
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            cf(&self.db, CF_LOGS),
            index_key(log_id.index),
            index_key(u64::MAX),
        );
        self.db
            .write_opt(batch, &opts)
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Record the purge point first, so a crash between the two steps
        // leaves a log state that is still consistent.
        self.put_meta(KEY_LAST_PURGED, &log_id)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            cf(&self.db, CF_LOGS),
            index_key(0),
            index_key(log_id.index + 1),
        );
        self.db
            .write(batch)
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of this process's thread named `name`.
    fn nice_of(name: &str) -> Option<i32> {
        let tid = std::fs::read_dir("/proc/self/task")
            .ok()?
            .find_map(|task| {
                let task = task.ok()?;
                let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
                (comm.trim() == name).then(|| task.file_name().to_str()?.parse().ok())?
            })?;
        rustix::process::getpriority_process(Some(rustix::process::Pid::from_raw(tid)?)).ok()
    }

    #[test]
    fn the_syncer_runs_at_a_higher_priority_where_it_may() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = super::super::db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let _log = LogStore::new(db).unwrap_or_else(|e| panic!("{e}"));
        // Without the right to raise it, the syncer keeps the priority of the thread that
        // started it.
        let want = if rustix::process::getuid().is_root() {
            SYNCER_NICE
        } else {
            rustix::process::getpriority_process(None).unwrap_or_else(|e| panic!("{e}"))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut seen = nice_of("keel-log-sync");
        while seen != Some(want) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            seen = nice_of("keel-log-sync");
        }
        assert_eq!(seen, Some(want), "the syncer's nice value");
    }
}
