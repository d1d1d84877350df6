//! The register model: what one key's object may be (absent, or a value at
//! a known or lower-bounded version) and how each operation, with the outcome
//! it returned, steps it.

use std::collections::HashMap;

use super::{Entry, Op, Outcome};

/// A value, interned per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Value(u32);

/// The interned values of one key, and which operation wrote each.
#[derive(Default)]
pub(super) struct Values {
    ids: HashMap<String, Value>,
    names: Vec<String>,
    writers: Vec<Option<usize>>,
}

impl Values {
    fn intern(&mut self, name: &str) -> Value {
        if let Some(&value) = self.ids.get(name) {
            return value;
        }
        let value = Value(u32::try_from(self.names.len()).unwrap_or(u32::MAX));
        self.ids.insert(name.to_string(), value);
        self.names.push(name.to_string());
        self.writers.push(None);
        value
    }

    /// Notes that operation `id` (its index in the whole history) writes
    /// `value`; the first writer is kept.
    pub(super) fn note_writer(&mut self, value: Value, id: usize) {
        if let Some(writer) = self.writers.get_mut(value.0 as usize) {
            writer.get_or_insert(id);
        }
    }

    pub(super) fn name(&self, value: Value) -> &str {
        self.names.get(value.0 as usize).map_or("?", String::as_str)
    }

    pub(super) fn writer(&self, value: Value) -> Option<usize> {
        self.writers.get(value.0 as usize).copied().flatten()
    }
}

/// An object's version as the model knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Version {
    Known(u64),
    /// Set by a write of unknown outcome: some version at least this.
    AtLeast(u64),
}

impl Version {
    /// Whether the object may be at `version`.
    fn admits(self, version: u64) -> bool {
        match self {
            Version::Known(known) => known == version,
            Version::AtLeast(floor) => version >= floor,
        }
    }

    /// Whether the object may be at a version other than `version`.
    fn may_differ_from(self, version: u64) -> bool {
        match self {
            Version::Known(known) => known != version,
            Version::AtLeast(_) => true,
        }
    }
}

/// The model's state of one key's object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum State {
    Absent,
    Present { value: Value, version: Version },
}

/// An operation and its outcome, as one model step.
#[derive(Clone, Copy, Debug)]
pub(super) enum Action {
    CreateOk {
        value: Value,
        version: u64,
    },
    CreateExists,
    CreateUnknown {
        value: Value,
    },
    UpdateOk {
        value: Value,
        expected: u64,
        version: u64,
    },
    UpdateConflict {
        expected: u64,
    },
    UpdateNotFound,
    UpdateUnknown {
        value: Value,
        expected: u64,
    },
    ReadFound {
        value: Value,
        version: u64,
    },
    ReadAbsent,
}

impl Action {
    /// The step for `op` returning `outcome`: `Ok(None)` if it says nothing
    /// (a read of unknown outcome), `Err` if no such operation can return it.
    pub(super) fn new(op: &Op, outcome: &Outcome, values: &mut Values) -> Result<Option<Self>, ()> {
        let action = match (op, outcome) {
            (Op::Read, Outcome::Unknown) => return Ok(None),
            (Op::Read, Outcome::Found { value, version }) => Action::ReadFound {
                value: values.intern(value),
                version: *version,
            },
            (Op::Read, Outcome::Absent) => Action::ReadAbsent,
            (Op::Create { value }, Outcome::Created { version }) => Action::CreateOk {
                value: values.intern(value),
                version: *version,
            },
            (Op::Create { .. }, Outcome::AlreadyExists) => Action::CreateExists,
            (Op::Create { value }, Outcome::Unknown) => Action::CreateUnknown {
                value: values.intern(value),
            },
            (
                Op::Update {
                    value,
                    expected_version,
                },
                Outcome::Updated { version },
            ) => Action::UpdateOk {
                value: values.intern(value),
                expected: *expected_version,
                version: *version,
            },
            (
                Op::Update {
                    expected_version, ..
                },
                Outcome::Conflict,
            ) => Action::UpdateConflict {
                expected: *expected_version,
            },
            (Op::Update { .. }, Outcome::NotFound) => Action::UpdateNotFound,
            (
                Op::Update {
                    value,
                    expected_version,
                },
                Outcome::Unknown,
            ) => Action::UpdateUnknown {
                value: values.intern(value),
                expected: *expected_version,
            },
            _ => return Err(()),
        };
        Ok(Some(action))
    }

    /// The value this step writes, if it is a write that may succeed.
    pub(super) fn written_value(self) -> Option<Value> {
        match self {
            Action::CreateOk { value, .. }
            | Action::CreateUnknown { value }
            | Action::UpdateOk { value, .. }
            | Action::UpdateUnknown { value, .. } => Some(value),
            _ => None,
        }
    }

    fn is_known(self) -> bool {
        !matches!(
            self,
            Action::CreateUnknown { .. } | Action::UpdateUnknown { .. }
        )
    }

    /// The state after this step from `state`, or `None` if it cannot take
    /// effect there. For an unknown outcome this is the state if it does take
    /// effect; not taking effect is handled by the search.
    pub(super) fn step(self, state: State) -> Option<State> {
        let present = |value, version| State::Present { value, version };
        match (self, state) {
            (Action::CreateOk { value, version }, State::Absent) => {
                Some(present(value, Version::Known(version)))
            }
            (Action::CreateUnknown { value }, State::Absent) => {
                Some(present(value, Version::AtLeast(0)))
            }
            (Action::CreateExists, State::Present { .. }) => Some(state),
            (
                Action::UpdateOk {
                    value,
                    expected,
                    version,
                },
                State::Present {
                    version: current, ..
                },
            ) => (current.admits(expected) && version > expected)
                .then(|| present(value, Version::Known(version))),
            (
                Action::UpdateUnknown { value, expected },
                State::Present {
                    version: current, ..
                },
            ) => {
                let floor = expected
                    .checked_add(1)
                    .filter(|_| current.admits(expected))?;
                Some(present(value, Version::AtLeast(floor)))
            }
            (
                Action::UpdateConflict { expected },
                State::Present {
                    version: current, ..
                },
            ) => current.may_differ_from(expected).then_some(state),
            (Action::UpdateNotFound | Action::ReadAbsent, State::Absent) => Some(state),
            (
                Action::ReadFound { value, version },
                State::Present {
                    value: held,
                    version: current,
                },
            ) => (value == held && current.admits(version))
                .then(|| present(value, Version::Known(version))),
            _ => None,
        }
    }
}

/// One operation of a key's sub-history.
pub(super) struct KeyOp {
    /// Its index in the whole history.
    pub(super) id: usize,
    pub(super) entry: Entry,
    pub(super) action: Action,
    pub(super) call: u64,
    /// Its return event's time; `None` (+infinity) for an unknown outcome.
    pub(super) deadline: Option<u64>,
}

impl KeyOp {
    pub(super) fn new(
        id: usize,
        entry: &Entry,
        values: &mut Values,
    ) -> Result<Option<Self>, String> {
        let mut entry = entry.clone();
        if entry.ret.is_none() {
            entry.outcome = Outcome::Unknown;
        }
        let problem = |what: &str| {
            format!(
                "op {id} by client {}: {} -> {}: {what}",
                entry.client, entry.op, entry.outcome
            )
        };
        if entry.ret.is_some_and(|ret| ret < entry.call) {
            return Err(problem("returned before it was called"));
        }
        let Ok(action) = Action::new(&entry.op, &entry.outcome, values) else {
            return Err(problem("that operation cannot return that outcome"));
        };
        Ok(action.map(|action| KeyOp {
            id,
            call: entry.call,
            deadline: if action.is_known() { entry.ret } else { None },
            entry,
            action,
        }))
    }

    pub(super) fn is_known(&self) -> bool {
        self.action.is_known()
    }
}
