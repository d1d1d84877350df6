//! The Raft type configuration and what the log carries. An entry is a
//! [`Proposal`]: the writes that arrived together while the previous proposal
//! was being made durable (group commit). Each write in it gets its own
//! revision, the object's `resourceVersion`.

use std::io::Cursor;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Raft node's id.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// Keel's Raft types: commands in, outcomes out, snapshots in memory.
    pub TypeConfig:
        D = Proposal,
        R = Vec<Outcome>,
);

/// The Raft handle for Keel's store.
pub type Raft = openraft::Raft<TypeConfig>;
/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id.
pub type LogId = openraft::LogId<NodeId>;
/// A storage error as openraft reports it.
pub type StorageError = openraft::StorageError<NodeId>;
/// A stored membership.
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;

/// The writes one log entry carries, applied in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Proposal(pub Vec<Command>);

/// A write to the object store. Preconditions are checked when the entry is
/// applied, so they hold at the revision the write gets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Command {
    /// Store a new object; fails if the key exists.
    Create {
        /// Store key.
        key: String,
        /// The object, as JSON.
        object: String,
    },
    /// Replace an existing object.
    Update {
        /// Store key.
        key: String,
        /// The new object, as JSON.
        object: String,
        /// The revision the object must have now, if any.
        expected_revision: Option<u64>,
    },
    /// Remove an object.
    Delete {
        /// Store key.
        key: String,
        /// The revision the object must have now, if any.
        expected_revision: Option<u64>,
        /// The uid the object must have, if any.
        expected_uid: Option<String>,
    },
    /// A write (`commands[0]`) with writes to other keys that must take effect with it: all
    /// of them, each at its own revision, or none. Preconditions are checked for every
    /// command before any is applied. Used for writes that charge other objects (an
    /// admission plugin's ResourceQuota usage). Nested `Atomic` commands are refused.
    Atomic {
        /// The write first, then the others; no key twice.
        commands: Vec<Command>,
    },
}

impl Command {
    /// Roughly how many bytes the command carries.
    pub fn size(&self) -> usize {
        match self {
            Command::Create { key, object } | Command::Update { key, object, .. } => {
                key.len() + object.len()
            }
            Command::Delete { key, .. } => key.len(),
            Command::Atomic { commands } => commands.iter().map(Command::size).sum(),
        }
    }

    /// The key the command writes (for `Atomic`, its first command's).
    pub fn key(&self) -> &str {
        match self {
            Command::Create { key, .. }
            | Command::Update { key, .. }
            | Command::Delete { key, .. } => key,
            Command::Atomic { commands } => commands.first().map_or("", Command::key),
        }
    }
}

/// What applying a command did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Outcome {
    /// The write took effect at `revision`; `object` is the stored object
    /// (for a delete, its last state stamped with the deletion revision).
    Applied {
        /// The revision of the write.
        revision: u64,
        /// The object as stored, `resourceVersion` stamped: the very value its watch event
        /// carries. An outcome answered to a forwarding member carries it as JSON text.
        #[serde(with = "json_text")]
        object: Arc<Value>,
    },
    /// A create found the key taken.
    AlreadyExists,
    /// An update or delete found no object.
    NotFound,
    /// A precondition did not hold.
    Conflict {
        /// The object's current revision.
        current_revision: u64,
        /// What did not match.
        reason: String,
    },
    /// The command's object is not a JSON object.
    Invalid(String),
    /// An `Atomic` write was not applied because one of the writes after the first failed
    /// its precondition (the first write's own failure is reported as itself).
    Refused {
        /// The key of the write that failed.
        key: String,
        /// How it failed.
        outcome: Box<Outcome>,
    },
    /// An entry that is not a command (blank or membership).
    #[default]
    Nothing,
}

/// An applied object on the wire, as JSON text: postcard, the members' encoding, cannot read
/// a `Value` back, since that needs a self-describing format.
mod json_text {
    use std::sync::Arc;

    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(object: &Arc<Value>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&**object)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Value>, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text)
            .map(Arc::new)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_applied_object_crosses_the_wire_as_json_text() {
        let applied = vec![Outcome::Applied {
            revision: 9,
            object: Arc::new(serde_json::json!({"metadata": {"name": "a\"b"}, "data": [1, 2]})),
        }];
        let wire = postcard::to_stdvec(&applied).unwrap_or_else(|e| panic!("{e}"));
        let back: Vec<Outcome> = postcard::from_bytes(&wire).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, applied);
        // `Applied` (variant 0) at revision 9, its object text not JSON.
        let garbled = postcard::to_stdvec(&(0u32, 9u64, "{not json")).unwrap_or_default();
        let refused = postcard::from_bytes::<Outcome>(&garbled);
        assert!(refused.is_err(), "{refused:?}");
        let fine = postcard::to_stdvec(&(0u32, 9u64, "{}")).unwrap_or_default();
        assert!(
            matches!(
                postcard::from_bytes::<Outcome>(&fine),
                Ok(Outcome::Applied { revision: 9, .. })
            ),
            "the same layout with JSON text reads"
        );
    }
}
