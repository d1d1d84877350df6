//! The state machine on RocksDB: applies commands to the objects column
//! family (checking their preconditions at apply time), gives each write the next revision
//! (a counter of applied writes kept beside the objects, so every replica assigns the same
//! ones), publishes the events to the watch hub, and builds and installs snapshots.
//!
//! A record keeps its revision in its header and the object's JSON as its command carried
//! it, so applying a write parses the object once (for its event) and never prints it
//! again; the `resourceVersion` is stamped on every object read back ([`read_object`]).

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, SnapshotMeta, StorageIOError};
use rocksdb::{DB, IteratorMode, WriteBatch};
use serde_json::Value;

use super::codec::{encode_object, read_object, read_snapshot, stamp, write_snapshot};
use super::db::{CF_OBJECTS, CF_SM_META, cf};
use super::types::{
    Command, Entry, LogId, NodeId, Outcome, Proposal, StorageError, StoredMembership, TypeConfig,
};
use crate::object::meta;
use crate::watch::{Event, EventType, WatchHub};

const KEY_APPLIED: &[u8] = b"last_applied";
/// The revision of the last applied write.
pub const KEY_REVISION: &[u8] = b"revision";
/// The snapshot record that carries the revision (no object key starts with NUL).
const SNAPSHOT_REVISION: &[u8] = b"\0revision";
const KEY_MEMBERSHIP: &[u8] = b"membership";
const KEY_SNAPSHOT_META: &[u8] = b"snapshot_meta";
const KEY_SNAPSHOT_DATA: &[u8] = b"snapshot_data";

/// The state machine; cheap to clone (clones share the database and hub).
#[derive(Clone)]
pub struct StateMachine {
    db: Arc<DB>,
    hub: Arc<WatchHub>,
}

/// Reads a JSON value from the state machine's metadata.
fn get_meta<T: serde::de::DeserializeOwned>(
    db: &DB,
    key: &[u8],
) -> Result<Option<T>, StorageError> {
    match db
        .get_cf(cf(db, CF_SM_META), key)
        .map_err(|e| StorageIOError::read_state_machine(&e))?
    {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| StorageIOError::read_state_machine(&e).into()),
    }
}

/// The revision of the last applied write (0 when empty).
pub fn applied_revision(db: &DB) -> Result<u64, StorageError> {
    Ok(get_meta::<u64>(db, KEY_REVISION)?.unwrap_or(0))
}

fn put_json<T: serde::Serialize>(
    batch: &mut WriteBatch,
    db: &DB,
    key: &[u8],
    v: &T,
) -> Result<(), StorageError> {
    let bytes = serde_json::to_vec(v).map_err(|e| StorageIOError::write_state_machine(&e))?;
    batch.put_cf(cf(db, CF_SM_META), key, bytes);
    Ok(())
}

/// Writes in one `apply` call, seen by later commands of the same call.
struct Pending<'a> {
    db: &'a DB,
    batch: WriteBatch,
    overlay: HashMap<String, Option<Vec<u8>>>,
    events: Vec<Event>,
}

impl Pending<'_> {
    fn current(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(v) = self.overlay.get(key) {
            return Ok(v.clone());
        }
        self.db
            .get_cf(cf(self.db, CF_OBJECTS), key)
            .map_err(|e| StorageIOError::read_state_machine(&e).into())
    }

    /// Stores `json` (the command's text) at `revision`.
    fn put(&mut self, key: &str, revision: u64, json: &str) {
        let stored = encode_object(revision, json.as_bytes());
        self.batch.put_cf(cf(self.db, CF_OBJECTS), key, &stored);
        self.overlay.insert(key.to_string(), Some(stored));
    }

    fn delete(&mut self, key: &str) {
        self.batch.delete_cf(cf(self.db, CF_OBJECTS), key);
        self.overlay.insert(key.to_string(), None);
    }
}

fn parse_object(json: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(json) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the object is not a JSON object".into()),
        Err(e) => Err(format!("the object is not valid JSON: {e}")),
    }
}

fn stored_value(bytes: &[u8]) -> Result<(u64, Value), StorageError> {
    read_object(bytes)
        .map_err(|e| StorageIOError::read_state_machine(&std::io::Error::other(e)).into())
}

/// The conflict when a write expected another revision than the current one.
fn revision_conflict(expected: Option<u64>, current: u64) -> Option<Outcome> {
    expected
        .filter(|want| *want != current)
        .map(|want| Outcome::Conflict {
            current_revision: current,
            reason: format!("resourceVersion {want} is not the current {current}"),
        })
}

/// Stores `json` (parsed: `obj`) at `revision` and records the event: ADDED when there was
/// no previous object, MODIFIED otherwise.
fn store_object(
    p: &mut Pending<'_>,
    key: String,
    json: &str,
    mut obj: Value,
    revision: u64,
    prev: Option<Value>,
) -> Outcome {
    p.put(&key, revision, json);
    stamp(&mut obj, revision);
    let object = Arc::new(obj);
    let kind = if prev.is_some() {
        EventType::Modified
    } else {
        EventType::Added
    };
    p.events.push(Event {
        revision,
        kind,
        key,
        object: object.clone(),
        prev: prev.map(Arc::new),
    });
    Outcome::Applied { revision, object }
}

/// What a command found when its preconditions held: the object it stores (parsed; none
/// for a delete) and the object it replaces or removes (none for a create).
struct Found {
    new: Option<Value>,
    prev: Option<Value>,
}

/// Checks a single command's preconditions against the current state: what it found, or
/// the outcome that refuses it.
fn check(p: &Pending<'_>, cmd: &Command) -> Result<Result<Found, Outcome>, StorageError> {
    let current = p.current(cmd.key())?;
    Ok(match cmd {
        Command::Create { object, .. } => match (current, parse_object(object)) {
            (Some(_), _) => Err(Outcome::AlreadyExists),
            (None, Err(e)) => Err(Outcome::Invalid(e)),
            (None, Ok(new)) => Ok(Found {
                new: Some(new),
                prev: None,
            }),
        },
        Command::Update {
            object,
            expected_revision,
            ..
        } => {
            let Some(cur) = current else {
                return Ok(Err(Outcome::NotFound));
            };
            let (cur_rev, prev) = stored_value(&cur)?;
            if let Some(conflict) = revision_conflict(*expected_revision, cur_rev) {
                return Ok(Err(conflict));
            }
            match parse_object(object) {
                Ok(new) => Ok(Found {
                    new: Some(new),
                    prev: Some(prev),
                }),
                Err(e) => Err(Outcome::Invalid(e)),
            }
        }
        Command::Delete {
            expected_revision,
            expected_uid,
            ..
        } => {
            let Some(cur) = current else {
                return Ok(Err(Outcome::NotFound));
            };
            let (cur_rev, prev) = stored_value(&cur)?;
            if let Some(conflict) = revision_conflict(*expected_revision, cur_rev) {
                return Ok(Err(conflict));
            }
            let uid = meta::meta_str(&prev, "uid").unwrap_or("");
            match expected_uid.as_deref().filter(|w| *w != uid) {
                Some(want) => Err(Outcome::Conflict {
                    current_revision: cur_rev,
                    reason: format!("UID in precondition: {want}, UID in object meta: {uid}"),
                }),
                None => Ok(Found {
                    new: None,
                    prev: Some(prev),
                }),
            }
        }
        Command::Atomic { .. } => Err(Outcome::Invalid(
            "an atomic write cannot contain another".into(),
        )),
    })
}

/// Applies a single command whose preconditions held at `revision`.
fn perform(
    p: &mut Pending<'_>,
    cmd: Command,
    found: Found,
    revision: u64,
) -> Result<Outcome, StorageError> {
    match (cmd, found) {
        (
            Command::Create { key, object } | Command::Update { key, object, .. },
            Found {
                new: Some(new),
                prev,
            },
        ) => Ok(store_object(p, key, &object, new, revision, prev)),
        (
            Command::Delete { key, .. },
            Found {
                prev: Some(prev), ..
            },
        ) => {
            p.delete(&key);
            let mut last = prev.clone();
            stamp(&mut last, revision);
            let last = Arc::new(last);
            p.events.push(Event {
                revision,
                kind: EventType::Deleted,
                key,
                object: last.clone(),
                prev: Some(Arc::new(prev)),
            });
            Ok(Outcome::Applied {
                revision,
                object: last,
            })
        }
        (Command::Atomic { .. }, _) => Ok(Outcome::Invalid(
            "an atomic write cannot contain another".into(),
        )),
        // `check` finds an object to store for creates and updates, and one to remove
        // for deletes.
        (_, _) => Ok(Outcome::NotFound),
    }
}

/// Applies one command after `*revision`, moving `*revision` past every write it made.
fn execute(p: &mut Pending<'_>, cmd: Command, revision: &mut u64) -> Result<Outcome, StorageError> {
    let Command::Atomic { commands } = cmd else {
        return Ok(match check(p, &cmd)? {
            Err(refused) => refused,
            Ok(found) => {
                let out = perform(p, cmd, found, *revision + 1)?;
                if matches!(out, Outcome::Applied { .. }) {
                    *revision += 1;
                }
                out
            }
        });
    };
    let mut keys = std::collections::HashSet::new();
    if commands.is_empty() || !commands.iter().all(|c| keys.insert(c.key())) {
        return Ok(Outcome::Invalid(
            "an atomic write needs at least one command and no key twice".into(),
        ));
    }
    let mut found = Vec::with_capacity(commands.len());
    for (i, command) in commands.iter().enumerate() {
        match check(p, command)? {
            Ok(f) => found.push(f),
            Err(refused) if i == 0 => return Ok(refused),
            Err(refused) => {
                return Ok(Outcome::Refused {
                    key: command.key().to_string(),
                    outcome: Box::new(refused),
                });
            }
        }
    }
    let mut first = None;
    for (command, found) in commands.into_iter().zip(found) {
        let out = perform(p, command, found, *revision + 1)?;
        *revision += 1;
        first.get_or_insert(out);
    }
    Ok(first.unwrap_or_default())
}

impl StateMachine {
    /// The state machine over `db`, publishing to `hub`.
    pub fn new(db: Arc<DB>, hub: Arc<WatchHub>) -> Self {
        Self { db, hub }
    }

    fn snapshot_bytes(&self) -> Result<(Option<LogId>, StoredMembership, Vec<u8>), StorageError> {
        // One RocksDB snapshot, so the objects and the applied id agree.
        let snap = self.db.snapshot();
        let read = |key: &[u8]| -> Result<Option<Vec<u8>>, StorageError> {
            snap.get_cf(cf(&self.db, CF_SM_META), key)
                .map_err(|e| StorageIOError::read_state_machine(&e).into())
        };
        let applied: Option<LogId> = match read(KEY_APPLIED)? {
            Some(b) => {
                serde_json::from_slice(&b).map_err(|e| StorageIOError::read_state_machine(&e))?
            }
            None => None,
        };
        let membership: StoredMembership = match read(KEY_MEMBERSHIP)? {
            Some(b) => {
                serde_json::from_slice(&b).map_err(|e| StorageIOError::read_state_machine(&e))?
            }
            None => StoredMembership::default(),
        };
        let revision: u64 = match read(KEY_REVISION)? {
            Some(b) => {
                serde_json::from_slice(&b).map_err(|e| StorageIOError::read_state_machine(&e))?
            }
            None => 0,
        };
        let mut records = vec![(
            SNAPSHOT_REVISION.to_vec().into_boxed_slice(),
            revision.to_be_bytes().to_vec().into_boxed_slice(),
        )];
        for item in snap.iterator_cf(cf(&self.db, CF_OBJECTS), IteratorMode::Start) {
            let (k, v) = item.map_err(|e| StorageIOError::read_state_machine(&e))?;
            records.push((k, v));
        }
        let data = write_snapshot(records.iter().map(|(k, v)| (&k[..], &v[..])));
        Ok((applied, membership, data))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (applied, membership, data) = self.snapshot_bytes()?;
        let snapshot_id = match applied {
            Some(l) => format!(
                "{}-{}-{}",
                l.leader_id,
                l.index,
                chrono::Utc::now().timestamp_millis()
            ),
            None => format!("empty-{}", chrono::Utc::now().timestamp_millis()),
        };
        let meta = SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id,
        };
        let mut batch = WriteBatch::default();
        put_json(&mut batch, &self.db, KEY_SNAPSHOT_META, &meta)?;
        batch.put_cf(cf(&self.db, CF_SM_META), KEY_SNAPSHOT_DATA, &data);
        self.db
            .write(batch)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "built snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = get_meta(&self.db, KEY_APPLIED)?;
        let membership = get_meta(&self.db, KEY_MEMBERSHIP)?.unwrap_or_default();
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Outcome>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut p = Pending {
            db: &self.db,
            batch: WriteBatch::default(),
            overlay: HashMap::new(),
            events: Vec::new(),
        };
        let mut outcomes = Vec::new();
        let mut revision = applied_revision(&self.db)?;
        let mut last: Option<LogId> = None;
        let mut membership: Option<StoredMembership> = None;
        for entry in entries {
            last = Some(entry.log_id);
            let out = match entry.payload {
                EntryPayload::Blank => Vec::new(),
                EntryPayload::Normal(Proposal(commands)) => {
                    let mut outs = Vec::with_capacity(commands.len());
                    for cmd in commands {
                        outs.push(execute(&mut p, cmd, &mut revision)?);
                    }
                    outs
                }
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), m));
                    Vec::new()
                }
            };
            outcomes.push(out);
        }
        let Some(last) = last else {
            return Ok(outcomes);
        };
        let Pending {
            mut batch, events, ..
        } = p;
        put_json(&mut batch, &self.db, KEY_APPLIED, &last)?;
        put_json(&mut batch, &self.db, KEY_REVISION, &revision)?;
        if let Some(m) = &membership {
            put_json(&mut batch, &self.db, KEY_MEMBERSHIP, m)?;
        }
        self.db
            .write(batch)
            .map_err(|e| StorageIOError::apply(last, &e))?;
        self.hub.publish(events, revision);
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let records = read_snapshot(&data).ok_or_else(|| {
            StorageIOError::read_snapshot(
                Some(meta.signature()),
                &std::io::Error::other("corrupt snapshot"),
            )
        })?;
        let objects = cf(&self.db, CF_OBJECTS);
        let mut batch = WriteBatch::default();
        // Clear every object key: `\u{10FFFF}` sorts after every key we write.
        batch.delete_range_cf(objects, b"".as_slice(), "\u{10FFFF}".as_bytes());
        let mut revision = 0u64;
        for (k, v) in records {
            if k == SNAPSHOT_REVISION {
                revision = v.try_into().map(u64::from_be_bytes).unwrap_or(0);
            } else {
                batch.put_cf(objects, k, v);
            }
        }
        put_json(&mut batch, &self.db, KEY_REVISION, &revision)?;
        put_json(&mut batch, &self.db, KEY_APPLIED, &meta.last_log_id)?;
        put_json(&mut batch, &self.db, KEY_MEMBERSHIP, &meta.last_membership)?;
        put_json(&mut batch, &self.db, KEY_SNAPSHOT_META, meta)?;
        batch.put_cf(cf(&self.db, CF_SM_META), KEY_SNAPSHOT_DATA, &data);
        self.db
            .write(batch)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        self.hub.reset(revision);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(meta) =
            get_meta::<SnapshotMeta<NodeId, openraft::BasicNode>>(&self.db, KEY_SNAPSHOT_META)?
        else {
            return Ok(None);
        };
        let data = self
            .db
            .get_cf(cf(&self.db, CF_SM_META), KEY_SNAPSHOT_DATA)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?
            .unwrap_or_default();
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
