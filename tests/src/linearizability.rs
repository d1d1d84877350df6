//! Linearizability checking for the histories that end-to-end tests record
//! while concurrent clients read and write a few objects and leaders are
//! killed underneath them.
//!
//! A [`History`] records each operation: the client, the key (the object's
//! name), what was asked ([`Op`]), what came back ([`Outcome`]), and when the
//! call was made and answered. [`History::check`] then decides, as Porcupine
//! and Knossos do, whether some total order of the operations respects both
//! real time (an operation that returned before another was called comes
//! first) and the model below. Keys are independent objects, so each key's
//! sub-history is checked on its own (P-compositionality).
//!
//! # Model
//!
//! Each key holds an object that is absent or present as (value, version):
//! - `Create`: on an absent object, `Created { version }` makes it present;
//!   `AlreadyExists` is valid only when it is present.
//! - `Update { expected_version }`: `Updated { version }` is valid only when
//!   the object is present at exactly `expected_version` and the new version
//!   is greater; `Conflict` only when present at another version; `NotFound`
//!   only when absent.
//! - `Read`: `Found { value, version }` only when the object holds exactly
//!   that; `Absent` only when absent.
//!
//! # Unknown outcomes
//!
//! A write whose result the client never learned (`Outcome::Unknown`, or an
//! operation never completed) is treated as Porcupine does: its return time
//! is +infinity, and it may take effect at any instant after its call, or
//! never. A read with an unknown outcome says nothing and is dropped. When an
//! unknown write takes effect its new version is not known, so the object's
//! version becomes "unknown, at least `floor`", where `floor` is one more than
//! the version it replaced (0 after a create). Later operations bind it
//! exactly: `Found { version: r }` of that value binds it to `r` (valid only
//! if `r >= floor`), and `Updated` with `expected_version: e` binds it to `e`
//! (valid only if `e >= floor`). The one permissive rule is `Conflict`: against
//! an unknown version it is always accepted and the checker does not remember
//! which version it ruled out. Every other step is exact.
//!
//! # Search
//!
//! Per key, the operations' call and return events form the Wing & Gong
//! doubly linked list; a depth-first search with backtracking places one
//! pending operation at a time, and a cache of (set of placed operations,
//! object state) prunes states already explored, as in Porcupine's
//! `checkSingle`. Two refinements keep it fast on long histories:
//! - an operation that leaves the state unchanged (a read, a conflict, ...)
//!   and is valid now is placed at once without a choice point: if any
//!   order of the remaining operations succeeds, one that places it first
//!   does too;
//! - an operation with unknown outcome is optional, so it has no return
//!   event and is only ever tried as taking effect; the search succeeds once
//!   every operation with a known outcome is placed.
//!
//! The search does not rely on values being unique (the tests make them so
//! only to make reports readable). Each key's search gets its own time
//! budget; a key whose search runs out is reported as undecided, which a test
//! should treat as a failure. Checking keys separately does not check that
//! versions are ordered across keys.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// An operation a client invokes on one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Create the object (a POST).
    Create {
        /// The value written.
        value: String,
    },
    /// Replace the object if it is at `expected_version` (a PUT with a
    /// `metadata.resourceVersion` precondition). The value should differ from
    /// the current one: Kubernetes keeps the version of an update that changes
    /// nothing, while the model requires a greater one.
    Update {
        /// The value written.
        value: String,
        /// The version the object must be at.
        expected_version: u64,
    },
    /// Read the object (a GET).
    Read,
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A create succeeded.
    Created {
        /// The object's new version.
        version: u64,
    },
    /// An update succeeded.
    Updated {
        /// The object's new version.
        version: u64,
    },
    /// A read found the object.
    Found {
        /// The value read.
        value: String,
        /// The version read.
        version: u64,
    },
    /// A read found no object.
    Absent,
    /// A create found the object already there.
    AlreadyExists,
    /// An update found the object at another version.
    Conflict,
    /// An update found no object.
    NotFound,
    /// The client never learned the result (timeout, reset connection, 5xx).
    Unknown,
}

/// One recorded operation, with times in the history's clock (nanoseconds
/// since the history began, or logical ticks for [`History::from_entries`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The client that issued it; only used in reports.
    pub client: usize,
    /// The object it addressed.
    pub key: String,
    /// What was asked.
    pub op: Op,
    /// What came back; taken as [`Outcome::Unknown`] while `ret` is `None`.
    pub outcome: Outcome,
    /// When it was called.
    pub call: u64,
    /// When it returned, or `None` if it never did.
    pub ret: Option<u64>,
}

/// Identifies an invoked operation, to complete it later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpId(usize);

impl OpId {
    /// The operation's position in [`History::entries`] (reports name
    /// operations by it).
    pub fn index(self) -> usize {
        self.0
    }
}

/// The result of [`History::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's sub-history is linearizable.
    Linearizable {
        /// Operations checked (reads with unknown outcome are not counted).
        ops: usize,
        /// Keys checked.
        keys: usize,
    },
    /// Some key's sub-history is not linearizable (or is malformed).
    Violation(Violation),
    /// The search for this key ran out of its budget before deciding.
    Undecided {
        /// The key whose search ran out.
        key: String,
    },
}

impl Verdict {
    /// Whether the history was found linearizable.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable { ops, keys } => {
                write!(f, "linearizable: {ops} operations on {keys} keys")
            }
            Verdict::Violation(violation) => violation.fmt(f),
            Verdict::Undecided { key } => write!(
                f,
                "undecided: the linearizability search for key {key:?} ran out of its budget"
            ),
        }
    }
}

/// Why one key's sub-history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The key.
    pub key: String,
    /// The longest linearizable prefix found and the operations that could
    /// not be placed after it, with their times and outcomes.
    pub explanation: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explanation)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create { value } => write!(f, "create {value:?}"),
            Op::Update {
                value,
                expected_version,
            } => write!(f, "update to {value:?} if at version {expected_version}"),
            Op::Read => f.write_str("read"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Created { version } => write!(f, "created at version {version}"),
            Outcome::Updated { version } => write!(f, "updated to version {version}"),
            Outcome::Found { value, version } => write!(f, "found {value:?} at version {version}"),
            Outcome::Absent => f.write_str("absent"),
            Outcome::AlreadyExists => f.write_str("already exists"),
            Outcome::Conflict => f.write_str("conflict"),
            Outcome::NotFound => f.write_str("not found"),
            Outcome::Unknown => f.write_str("outcome unknown"),
        }
    }
}

/// A thread-safe recorder of operations; clones share one recording.
#[derive(Clone, Debug)]
pub struct History {
    shared: Arc<Mutex<Recording>>,
}

/// What a [`History`] guards: its clock and its entries.
#[derive(Debug)]
struct Recording {
    clock: Clock,
    entries: Vec<Entry>,
}

/// Where a history's times come from.
#[derive(Clone, Copy, Debug)]
enum Clock {
    /// Nanoseconds since `origin`, strictly increasing: events recorded one
    /// after the other under the lock never share a time.
    Wall { origin: Instant, last: Option<u64> },
    /// Logical ticks; the next one to hand out.
    Logical(u64),
}

impl Clock {
    fn tick(&mut self) -> u64 {
        match self {
            Clock::Wall { origin, last } => {
                let now = u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let now = last.map_or(now, |last| now.max(last.saturating_add(1)));
                *last = Some(now);
                now
            }
            Clock::Logical(next) => {
                let now = *next;
                *next += 1;
                now
            }
        }
    }

    fn unit(self) -> TimeUnit {
        match self {
            Clock::Wall { .. } => TimeUnit::Nanos,
            Clock::Logical(_) => TimeUnit::Logical,
        }
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

impl History {
    /// An empty history timed by the wall clock.
    pub fn new() -> Self {
        let clock = Clock::Wall {
            origin: Instant::now(),
            last: None,
        };
        Self::with(clock, Vec::new())
    }

    /// A history of explicit entries with logical times; operations invoked
    /// on it later get ticks after the largest time given.
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> Self {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let latest = entries
            .iter()
            .map(|e| e.ret.unwrap_or(e.call).max(e.call))
            .max();
        let next = latest.map_or(0, |t| t.saturating_add(1));
        Self::with(Clock::Logical(next), entries)
    }

    fn with(clock: Clock, entries: Vec<Entry>) -> Self {
        let recording = Recording { clock, entries };
        Self {
            shared: Arc::new(Mutex::new(recording)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Recording> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that `client` calls `op` on `key` now; complete it with the id.
    pub fn invoke(&self, client: usize, key: &str, op: Op) -> OpId {
        let mut recording = self.lock();
        let call = recording.clock.tick();
        recording.entries.push(Entry {
            client,
            key: key.to_string(),
            op,
            outcome: Outcome::Unknown,
            call,
            ret: None,
        });
        OpId(recording.entries.len() - 1)
    }

    /// Records that the operation returned `outcome` now. Only the first
    /// completion of an operation counts.
    pub fn complete(&self, id: OpId, outcome: Outcome) {
        let mut recording = self.lock();
        let ret = recording.clock.tick();
        if let Some(entry) = recording.entries.get_mut(id.0)
            && entry.ret.is_none()
        {
            entry.outcome = outcome;
            entry.ret = Some(ret);
        }
    }

    /// Operations recorded.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no operation was recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// A copy of the entries, in invocation order.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    /// Checks each key's sub-history, giving each key's search at most
    /// `budget`. Operations never completed count as unknown. A violation on
    /// any key wins over a key left undecided.
    pub fn check(&self, budget: Duration) -> Verdict {
        let (entries, unit) = {
            let recording = self.lock();
            (recording.entries.clone(), recording.clock.unit())
        };
        check_entries(&entries, unit, budget)
    }
}

fn check_entries(entries: &[Entry], unit: TimeUnit, budget: Duration) -> Verdict {
    let mut by_key: BTreeMap<&str, Vec<(usize, &Entry)>> = BTreeMap::new();
    for (id, entry) in entries.iter().enumerate() {
        by_key.entry(&entry.key).or_default().push((id, entry));
    }
    let mut checked = 0;
    let mut undecided = None;
    for (key, key_entries) in &by_key {
        match check_key(key, key_entries, unit, budget) {
            KeyVerdict::Linearizable { ops } => checked += ops,
            KeyVerdict::Violation(explanation) => {
                return Verdict::Violation(Violation {
                    key: key.to_string(),
                    explanation,
                });
            }
            KeyVerdict::Undecided => {
                undecided.get_or_insert_with(|| key.to_string());
            }
        }
    }
    match undecided {
        Some(key) => Verdict::Undecided { key },
        None => Verdict::Linearizable {
            ops: checked,
            keys: by_key.len(),
        },
    }
}

enum KeyVerdict {
    Linearizable { ops: usize },
    Violation(String),
    Undecided,
}

fn check_key(
    key: &str,
    entries: &[(usize, &Entry)],
    unit: TimeUnit,
    budget: Duration,
) -> KeyVerdict {
    let deadline = Instant::now().checked_add(budget);
    let mut values = Values::default();
    let mut ops = Vec::new();
    let mut malformed = Vec::new();
    for &(id, entry) in entries {
        match KeyOp::new(id, entry, &mut values) {
            Ok(Some(op)) => {
                if let Some(value) = op.action.written_value() {
                    values.note_writer(value, op.id);
                }
                ops.push(op);
            }
            Ok(None) => {}
            Err(problem) => malformed.push(problem),
        }
    }
    if !malformed.is_empty() {
        return KeyVerdict::Violation(explain_malformed(key, &malformed));
    }
    ops.sort_by_key(|op| (op.call, op.id));
    match Search::new(&ops).run(deadline) {
        SearchEnd::Linearizable => KeyVerdict::Linearizable { ops: ops.len() },
        SearchEnd::OutOfBudget => KeyVerdict::Undecided,
        SearchEnd::Stuck(frontier) => {
            let report = Report {
                key,
                ops: &ops,
                values: &values,
                unit,
            };
            KeyVerdict::Violation(report.explain(&frontier))
        }
    }
}

/// How times are printed.
#[derive(Clone, Copy, Debug)]
enum TimeUnit {
    Nanos,
    Logical,
}

impl TimeUnit {
    fn show(self, t: u64) -> String {
        match self {
            TimeUnit::Nanos => format!("{}.{:03}ms", t / 1_000_000, (t / 1_000) % 1_000),
            TimeUnit::Logical => format!("t={t}"),
        }
    }
}

/// A value, interned per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Value(u32);

/// The interned values of one key, and which operation wrote each.
#[derive(Default)]
struct Values {
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
    fn note_writer(&mut self, value: Value, id: usize) {
        if let Some(writer) = self.writers.get_mut(value.0 as usize) {
            writer.get_or_insert(id);
        }
    }

    fn name(&self, value: Value) -> &str {
        self.names.get(value.0 as usize).map_or("?", String::as_str)
    }

    fn writer(&self, value: Value) -> Option<usize> {
        self.writers.get(value.0 as usize).copied().flatten()
    }
}

/// An object's version as the model knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Version {
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
enum State {
    Absent,
    Present { value: Value, version: Version },
}

/// An operation and its outcome, as one model step.
#[derive(Clone, Copy, Debug)]
enum Action {
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
    fn new(op: &Op, outcome: &Outcome, values: &mut Values) -> Result<Option<Self>, ()> {
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
    fn written_value(self) -> Option<Value> {
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
    fn step(self, state: State) -> Option<State> {
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
struct KeyOp {
    /// Its index in the whole history.
    id: usize,
    entry: Entry,
    action: Action,
    call: u64,
    /// Its return event's time; `None` (+infinity) for an unknown outcome.
    deadline: Option<u64>,
}

impl KeyOp {
    fn new(id: usize, entry: &Entry, values: &mut Values) -> Result<Option<Self>, String> {
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

    fn is_known(&self) -> bool {
        self.action.is_known()
    }
}

/// A set of operations, by their index in the key's sorted operations.
#[derive(Clone, Debug)]
struct Bitset {
    words: Vec<u64>,
}

/// A compact, canonical copy of a [`Bitset`]: leading all-ones words are
/// counted and trailing zero words dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Fingerprint {
    full_words: usize,
    rest: Box<[u64]>,
}

impl Bitset {
    fn with_len(bits: usize) -> Self {
        Self {
            words: vec![0; bits.div_ceil(64)],
        }
    }

    fn set(&mut self, bit: usize) {
        if let Some(word) = self.words.get_mut(bit / 64) {
            *word |= 1 << (bit % 64);
        }
    }

    fn clear(&mut self, bit: usize) {
        if let Some(word) = self.words.get_mut(bit / 64) {
            *word &= !(1 << (bit % 64));
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        let full_words = self.words.iter().take_while(|&&w| w == u64::MAX).count();
        let end = self
            .words
            .iter()
            .rposition(|&w| w != 0)
            .map_or(full_words, |last| (last + 1).max(full_words));
        Fingerprint {
            full_words,
            rest: self.words.get(full_words..end).unwrap_or_default().into(),
        }
    }
}

/// A node of the event list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Head,
    Call(usize),
    Return(usize),
    Tail,
}

const HEAD: usize = 0;

/// The Wing & Gong list of call and return events in time order, from which
/// placed operations are unlinked and relinked on backtracking.
struct EventList {
    events: Vec<Event>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_node: Vec<usize>,
    return_node: Vec<Option<usize>>,
}

impl EventList {
    /// At equal times calls come before returns, so touching operations
    /// count as concurrent.
    fn new(ops: &[KeyOp]) -> Self {
        // (time, is a return, operation): calls sort first at equal times.
        let mut timed = Vec::with_capacity(ops.len() * 2);
        for (index, op) in ops.iter().enumerate() {
            timed.push((op.call, false, index));
            if let Some(ret) = op.deadline {
                timed.push((ret, true, index));
            }
        }
        timed.sort_unstable();
        let mut events = vec![Event::Head];
        let mut call_node = vec![0; ops.len()];
        let mut return_node = vec![None; ops.len()];
        for (_, is_return, index) in timed {
            let node = events.len();
            if is_return {
                return_node[index] = Some(node);
                events.push(Event::Return(index));
            } else {
                call_node[index] = node;
                events.push(Event::Call(index));
            }
        }
        events.push(Event::Tail);
        let count = events.len();
        Self {
            events,
            next: (1..=count).collect(),
            prev: (0..count).map(|node| node.saturating_sub(1)).collect(),
            call_node,
            return_node,
        }
    }

    fn event(&self, node: usize) -> Event {
        self.events.get(node).copied().unwrap_or(Event::Tail)
    }

    fn first(&self) -> usize {
        self.next[HEAD]
    }

    fn after(&self, node: usize) -> usize {
        self.next[node]
    }

    fn after_call(&self, op: usize) -> usize {
        self.next[self.call_node[op]]
    }

    fn unlink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = next;
        self.prev[next] = prev;
    }

    fn relink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = node;
        self.prev[next] = node;
    }

    fn lift(&mut self, op: usize) {
        self.unlink(self.call_node[op]);
        if let Some(ret) = self.return_node[op] {
            self.unlink(ret);
        }
    }

    /// Undoes [`EventList::lift`]; lifts must be undone in reverse order.
    fn unlift(&mut self, op: usize) {
        if let Some(ret) = self.return_node[op] {
            self.relink(ret);
        }
        self.relink(self.call_node[op]);
    }

    /// The operations that may be placed next (those called before the
    /// earliest pending return), and the operation of that return.
    fn pending(&self) -> (Vec<usize>, Option<usize>) {
        let mut ops = Vec::new();
        let mut node = self.first();
        loop {
            match self.event(node) {
                Event::Call(op) => ops.push(op),
                Event::Return(op) => return (ops, Some(op)),
                Event::Head | Event::Tail => return (ops, None),
            }
            node = self.after(node);
        }
    }
}

/// A placed operation and what to restore on backtracking.
struct Frame {
    op: usize,
    before: State,
    /// Placed without a choice point (it left the state unchanged).
    forced: bool,
}

/// Where the deepest branch of the search got stuck.
struct Frontier {
    /// Placed operations, in linearization order.
    prefix: Vec<usize>,
    state: State,
    pending: Vec<usize>,
    blocking: Option<usize>,
}

enum SearchEnd {
    Linearizable,
    Stuck(Frontier),
    OutOfBudget,
}

/// What trying the state-preserving operations did.
enum Sweep {
    Placed,
    /// One was valid but its placement was already explored: this whole
    /// state fails.
    DeadEnd,
    Nothing,
}

/// How many search steps run between deadline checks.
const STEPS_PER_DEADLINE_CHECK: u64 = 1024;

/// The depth-first search over one key's operations.
struct Search<'a> {
    ops: &'a [KeyOp],
    list: EventList,
    state: State,
    placed: Bitset,
    stack: Vec<Frame>,
    explored: HashSet<(Fingerprint, State)>,
    unplaced_known: usize,
    steps: u64,
    deepest: Option<Frontier>,
}

impl<'a> Search<'a> {
    fn new(ops: &'a [KeyOp]) -> Self {
        Self {
            ops,
            list: EventList::new(ops),
            state: State::Absent,
            placed: Bitset::with_len(ops.len()),
            stack: Vec::new(),
            explored: HashSet::new(),
            unplaced_known: ops.iter().filter(|op| op.is_known()).count(),
            steps: 0,
            deepest: None,
        }
    }

    /// Searches until every known operation is placed, no order remains, or
    /// the deadline (if any) passes.
    fn run(mut self, deadline: Option<Instant>) -> SearchEnd {
        let mut resume_at = None;
        loop {
            if self.out_of_time(deadline) {
                return SearchEnd::OutOfBudget;
            }
            let advanced = match resume_at.take() {
                Some(node) => self.place_state_changing(node),
                None => {
                    if self.unplaced_known == 0 {
                        return SearchEnd::Linearizable;
                    }
                    match self.place_state_preserving() {
                        Sweep::Placed => true,
                        Sweep::DeadEnd => false,
                        Sweep::Nothing => self.place_state_changing(self.list.first()),
                    }
                }
            };
            if !advanced {
                match self.backtrack() {
                    Some(node) => resume_at = Some(node),
                    None => return SearchEnd::Stuck(self.take_deepest()),
                }
            }
        }
    }

    fn out_of_time(&mut self, deadline: Option<Instant>) -> bool {
        self.steps += 1;
        self.steps.is_multiple_of(STEPS_PER_DEADLINE_CHECK)
            && deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Places the first pending operation that is valid now and leaves the
    /// state unchanged. Placing it now loses nothing: it can be moved to the
    /// front of any successful order of the remaining operations.
    fn place_state_preserving(&mut self) -> Sweep {
        let mut node = self.list.first();
        while let Event::Call(op) = self.list.event(node) {
            if self.ops[op].action.step(self.state) == Some(self.state) {
                return if self.place(op, self.state, true) {
                    Sweep::Placed
                } else {
                    Sweep::DeadEnd
                };
            }
            node = self.list.after(node);
        }
        Sweep::Nothing
    }

    /// Places the first pending operation from `node` on that is valid now
    /// and leads to an unexplored state; false if there is none.
    fn place_state_changing(&mut self, mut node: usize) -> bool {
        while let Event::Call(op) = self.list.event(node) {
            if let Some(next) = self.ops[op].action.step(self.state)
                && self.place(op, next, false)
            {
                return true;
            }
            node = self.list.after(node);
        }
        false
    }

    /// Places `op`, moving to `next`, unless that was already explored.
    fn place(&mut self, op: usize, next: State, forced: bool) -> bool {
        self.placed.set(op);
        if !self.explored.insert((self.placed.fingerprint(), next)) {
            self.placed.clear(op);
            return false;
        }
        self.stack.push(Frame {
            op,
            before: self.state,
            forced,
        });
        self.state = next;
        self.list.lift(op);
        if self.ops[op].is_known() {
            self.unplaced_known -= 1;
        }
        true
    }

    /// Undoes placements back to the latest choice point, returning the node
    /// to resume scanning from, or `None` if no choice is left.
    fn backtrack(&mut self) -> Option<usize> {
        self.remember_if_deepest();
        while let Some(frame) = self.stack.pop() {
            self.list.unlift(frame.op);
            self.placed.clear(frame.op);
            self.state = frame.before;
            if self.ops[frame.op].is_known() {
                self.unplaced_known += 1;
            }
            if !frame.forced {
                return Some(self.list.after_call(frame.op));
            }
        }
        None
    }

    fn remember_if_deepest(&mut self) {
        if self
            .deepest
            .as_ref()
            .is_some_and(|deepest| deepest.prefix.len() >= self.stack.len())
        {
            return;
        }
        self.deepest = Some(self.frontier());
    }

    fn frontier(&self) -> Frontier {
        let (pending, blocking) = self.list.pending();
        Frontier {
            prefix: self.stack.iter().map(|frame| frame.op).collect(),
            state: self.state,
            pending,
            blocking,
        }
    }

    fn take_deepest(&mut self) -> Frontier {
        self.deepest.take().unwrap_or_else(|| self.frontier())
    }
}

/// How many placed operations a report shows.
const PREFIX_SHOWN: usize = 10;
/// How many pending operations a report shows.
const PENDING_SHOWN: usize = 30;

/// Writes a violation's explanation.
struct Report<'a> {
    key: &'a str,
    ops: &'a [KeyOp],
    values: &'a Values,
    unit: TimeUnit,
}

impl Report<'_> {
    fn explain(&self, frontier: &Frontier) -> String {
        let unknown = self.ops.iter().filter(|op| !op.is_known()).count();
        let mut lines = vec![format!(
            "key {:?} is not linearizable: no order of its {} operations ({unknown} with unknown \
             outcome) respects both real time and the object's semantics.",
            self.key,
            self.ops.len()
        )];
        if let TimeUnit::Nanos = self.unit {
            lines.push("Times are since the history began.".to_string());
        }
        lines.extend(self.describe_prefix(frontier));
        lines.extend(self.describe_pending(frontier));
        if let Some(op) = frontier.blocking.and_then(|index| self.ops.get(index)) {
            lines.push(format!(
                "Op {} returned at {} without having taken effect, so one of these had to take \
                 effect first.",
                op.id,
                op.deadline
                    .map_or_else(|| "?".to_string(), |t| self.unit.show(t))
            ));
        }
        lines.join("\n")
    }

    fn describe_prefix(&self, frontier: &Frontier) -> Vec<String> {
        if frontier.prefix.is_empty() {
            return vec![
                "No operation can be placed first (the object starts absent).".to_string(),
            ];
        }
        let shown = frontier.prefix.len().min(PREFIX_SHOWN);
        let mut lines = vec![
            format!(
                "The longest linearizable prefix found places {} operations, leaving the object {}.",
                frontier.prefix.len(),
                self.describe_state(frontier.state)
            ),
            format!("Its last {shown}, in linearization order:"),
        ];
        let tail = frontier.prefix.iter().skip(frontier.prefix.len() - shown);
        lines.extend(tail.map(|&op| format!("  {}", self.describe_op(op))));
        lines
    }

    /// The pending operations with a known outcome, then those with an
    /// unknown outcome that could take effect, each with why it was not
    /// placed; the other unknown ones only by name.
    fn describe_pending(&self, frontier: &Frontier) -> Vec<String> {
        let (listed, inert) = self.sort_pending(frontier);
        let mut lines = vec![
            "Pending then (called before the earliest pending return), and none can be placed \
             next:"
                .to_string(),
        ];
        for &op in listed.iter().take(PENDING_SHOWN) {
            lines.push(format!("  {}", self.describe_op(op)));
            lines.push(format!("      {}", self.why_not(op, frontier.state)));
        }
        if listed.len() > PENDING_SHOWN {
            lines.push(format!("  ... and {} more", listed.len() - PENDING_SHOWN));
        }
        if !inert.is_empty() {
            let mut names: Vec<String> = inert
                .iter()
                .take(PENDING_SHOWN)
                .map(|&op| self.op_name(op))
                .collect();
            if inert.len() > PENDING_SHOWN {
                names.push("...".to_string());
            }
            lines.push(format!(
                "  and {} operations with unknown outcome that cannot take effect here: {}",
                inert.len(),
                names.join(", ")
            ));
        }
        lines
    }

    /// Splits the pending operations into those worth explaining (known
    /// outcome, or unknown but able to take effect) and the rest.
    fn sort_pending(&self, frontier: &Frontier) -> (Vec<usize>, Vec<usize>) {
        let worth_explaining = |op: &usize| {
            self.ops.get(*op).is_some_and(|key_op| {
                key_op.is_known() || key_op.action.step(frontier.state).is_some()
            })
        };
        let (mut listed, inert): (Vec<usize>, Vec<usize>) =
            frontier.pending.iter().partition(|op| worth_explaining(op));
        listed.sort_by_key(|&op| self.ops.get(op).is_some_and(|key_op| !key_op.is_known()));
        (listed, inert)
    }

    fn op_name(&self, op: usize) -> String {
        self.ops
            .get(op)
            .map_or_else(|| format!("#{op}"), |key_op| format!("op {}", key_op.id))
    }

    fn why_not(&self, op: usize, state: State) -> String {
        let Some(key_op) = self.ops.get(op) else {
            return String::new();
        };
        if key_op.action.step(state).is_some() {
            return "could take effect here, but every order after that fails".to_string();
        }
        let mut reason = format!(
            "cannot take effect: the object is {}",
            self.describe_state(state)
        );
        if let Action::ReadFound { value, .. } = key_op.action {
            let name = self.values.name(value);
            match self.values.writer(value) {
                Some(writer) => reason.push_str(&format!(" ({name:?} was written by op {writer})")),
                None => reason.push_str(&format!(" (no operation on this key writes {name:?})")),
            }
        }
        reason
    }

    fn describe_op(&self, op: usize) -> String {
        let Some(key_op) = self.ops.get(op) else {
            return format!("op #{op}?");
        };
        let entry = &key_op.entry;
        let returned = match (entry.ret, key_op.is_known()) {
            (Some(ret), true) => format!("returned {}", self.unit.show(ret)),
            (Some(ret), false) => format!("gave up {}", self.unit.show(ret)),
            (None, _) => "never returned".to_string(),
        };
        format!(
            "op {} by client {}, called {}, {returned}: {} -> {}",
            key_op.id,
            entry.client,
            self.unit.show(entry.call),
            entry.op,
            entry.outcome
        )
    }

    fn describe_state(&self, state: State) -> String {
        match state {
            State::Absent => "absent".to_string(),
            State::Present {
                value,
                version: Version::Known(version),
            } => format!("holding {:?} at version {version}", self.values.name(value)),
            State::Present {
                value,
                version: Version::AtLeast(0),
            } => format!(
                "holding {:?} at an unknown version",
                self.values.name(value)
            ),
            State::Present {
                value,
                version: Version::AtLeast(floor),
            } => format!(
                "holding {:?} at an unknown version (at least {floor})",
                self.values.name(value)
            ),
        }
    }
}

fn explain_malformed(key: &str, problems: &[String]) -> String {
    let mut lines = vec![format!("key {key:?} has a malformed history:")];
    lines.extend(problems.iter().map(|problem| format!("  {problem}")));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_secs(30);

    fn create(value: &str) -> Op {
        Op::Create {
            value: value.to_string(),
        }
    }

    fn update(value: &str, expected_version: u64) -> Op {
        Op::Update {
            value: value.to_string(),
            expected_version,
        }
    }

    fn found(value: &str, version: u64) -> Outcome {
        Outcome::Found {
            value: value.to_string(),
            version,
        }
    }

    /// An operation on key "a" by `client` that returned `outcome`.
    fn done(client: usize, op: Op, outcome: Outcome, call: u64, ret: u64) -> Entry {
        Entry {
            client,
            key: "a".to_string(),
            op,
            outcome,
            call,
            ret: Some(ret),
        }
    }

    /// An operation on key "a" that never returned.
    fn lost(client: usize, op: Op, call: u64) -> Entry {
        Entry {
            client,
            key: "a".to_string(),
            op,
            outcome: Outcome::Unknown,
            call,
            ret: None,
        }
    }

    fn on_key(key: &str, mut entry: Entry) -> Entry {
        entry.key = key.to_string();
        entry
    }

    fn check(entries: Vec<Entry>) -> Verdict {
        History::from_entries(entries).check(BUDGET)
    }

    fn assert_linearizable(entries: Vec<Entry>) {
        let verdict = check(entries);
        assert!(verdict.is_linearizable(), "{verdict}");
    }

    fn assert_violation(entries: Vec<Entry>, key: &str) -> Violation {
        match check(entries) {
            Verdict::Violation(violation) => {
                assert_eq!(violation.key, key, "{violation}");
                violation
            }
            other => panic!("expected a violation on {key:?}, got: {other}"),
        }
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let entries = vec![
            done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            done(0, Op::Read, found("x", 1), 2, 3),
            done(1, update("y", 1), Outcome::Updated { version: 2 }, 4, 5),
            done(1, update("z", 1), Outcome::Conflict, 6, 7),
            done(0, Op::Read, found("y", 2), 8, 9),
            on_key("b", done(0, Op::Read, Outcome::Absent, 0, 1)),
            on_key("b", done(0, update("q", 3), Outcome::NotFound, 2, 3)),
            on_key(
                "b",
                done(0, create("q"), Outcome::Created { version: 5 }, 4, 5),
            ),
            on_key("b", done(1, create("r"), Outcome::AlreadyExists, 6, 7)),
        ];
        assert_eq!(check(entries), Verdict::Linearizable { ops: 9, keys: 2 });
    }

    #[test]
    fn read_may_see_a_create_before_it_returns() {
        assert_linearizable(vec![
            done(0, create("x"), Outcome::Created { version: 4 }, 0, 10),
            done(1, Op::Read, Outcome::Absent, 1, 3),
            done(2, Op::Read, found("x", 4), 2, 5),
        ]);
    }

    #[test]
    fn concurrent_updates_with_one_expected_version_one_wins() {
        assert_linearizable(vec![
            done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            done(1, update("y", 1), Outcome::Updated { version: 2 }, 2, 6),
            done(2, update("z", 1), Outcome::Conflict, 3, 5),
            done(0, Op::Read, found("y", 2), 7, 8),
        ]);
    }

    #[test]
    fn unknown_create_revealed_by_a_later_read() {
        assert_linearizable(vec![
            lost(0, create("x"), 0),
            done(1, Op::Read, Outcome::Absent, 1, 2),
            done(1, Op::Read, found("x", 7), 5, 6),
            done(1, update("y", 7), Outcome::Updated { version: 8 }, 7, 8),
        ]);
    }

    #[test]
    fn unknown_write_may_take_effect_after_the_client_gave_up() {
        assert_linearizable(vec![
            done(0, create("x"), Outcome::Unknown, 0, 3),
            done(1, Op::Read, Outcome::Absent, 5, 6),
            done(1, Op::Read, found("x", 9), 10, 11),
        ]);
    }

    #[test]
    fn unknown_update_that_never_took_effect() {
        assert_linearizable(vec![
            done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            lost(0, update("y", 1), 2),
            done(1, Op::Read, found("x", 1), 3, 4),
            done(1, Op::Read, found("x", 1), 10, 11),
            done(2, update("z", 1), Outcome::Updated { version: 5 }, 20, 21),
            done(1, Op::Read, found("z", 5), 30, 31),
        ]);
    }

    #[test]
    fn unknown_create_cannot_replace_an_existing_object() {
        assert_violation(
            vec![
                done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
                lost(1, create("y"), 2),
                done(0, Op::Read, found("y", 3), 4, 5),
            ],
            "a",
        );
    }

    #[test]
    fn entry_that_never_returned_counts_as_unknown_whatever_its_outcome() {
        let mut never_returned = done(0, create("x"), Outcome::Created { version: 1 }, 0, 0);
        never_returned.ret = None;
        assert_linearizable(vec![never_returned, done(1, Op::Read, found("x", 7), 5, 6)]);
    }

    #[test]
    fn read_with_unknown_outcome_is_dropped() {
        let entries = vec![
            done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            done(1, Op::Read, Outcome::Unknown, 2, 3),
            lost(1, Op::Read, 4),
        ];
        assert_eq!(check(entries), Verdict::Linearizable { ops: 1, keys: 1 });
    }

    #[test]
    fn stale_read_is_a_violation() {
        let violation = assert_violation(
            vec![
                done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
                done(0, update("y", 1), Outcome::Updated { version: 2 }, 2, 3),
                done(1, Op::Read, found("x", 1), 4, 5),
            ],
            "a",
        );
        let text = violation.to_string();
        assert!(text.contains("key \"a\""), "{text}");
        assert!(text.contains("places 2 operations"), "{text}");
        assert!(text.contains("holding \"y\" at version 2"), "{text}");
        assert!(text.contains("(\"x\" was written by op 0)"), "{text}");
        assert!(
            text.contains(
                "op 2 by client 1, called t=4, returned t=5: read -> found \"x\" at version 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn lost_acknowledged_write_is_a_violation() {
        assert_violation(
            vec![
                on_key(
                    "b",
                    done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
                ),
                on_key("b", done(1, Op::Read, Outcome::Absent, 2, 3)),
            ],
            "b",
        );
    }

    #[test]
    fn two_updates_with_one_expected_version_both_succeeding_is_a_violation() {
        assert_violation(
            vec![
                done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
                done(1, update("y", 1), Outcome::Updated { version: 2 }, 2, 5),
                done(2, update("z", 1), Outcome::Updated { version: 3 }, 3, 6),
            ],
            "a",
        );
    }

    #[test]
    fn read_of_a_value_never_written_is_a_violation() {
        let violation = assert_violation(
            vec![
                done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
                done(1, Op::Read, found("ghost", 1), 0, 3),
            ],
            "a",
        );
        assert!(
            violation
                .explanation
                .contains("no operation on this key writes \"ghost\""),
            "{violation}"
        );
    }

    #[test]
    fn version_going_backwards_is_a_violation() {
        assert_violation(
            vec![
                done(0, create("x"), Outcome::Created { version: 5 }, 0, 1),
                done(0, update("y", 5), Outcome::Updated { version: 3 }, 2, 3),
            ],
            "a",
        );
        assert_violation(
            vec![
                done(0, create("x"), Outcome::Created { version: 5 }, 0, 1),
                done(0, update("y", 5), Outcome::Updated { version: 7 }, 2, 3),
                done(1, Op::Read, found("y", 6), 4, 5),
            ],
            "a",
        );
    }

    #[test]
    fn known_versions_are_exact() {
        let created = || done(0, create("x"), Outcome::Created { version: 1 }, 0, 1);
        assert_violation(
            vec![created(), done(1, update("y", 1), Outcome::Conflict, 2, 3)],
            "a",
        );
        assert_violation(
            vec![created(), done(1, update("y", 1), Outcome::NotFound, 2, 3)],
            "a",
        );
        assert_violation(
            vec![done(1, create("y"), Outcome::AlreadyExists, 0, 1)],
            "a",
        );
        assert_violation(
            vec![
                created(),
                done(1, update("y", 1), Outcome::Updated { version: 1 }, 2, 3),
            ],
            "a",
        );
    }

    #[test]
    fn unknown_version_is_bound_by_a_read() {
        assert_violation(
            vec![
                lost(0, create("x"), 0),
                done(1, Op::Read, found("x", 4), 5, 6),
                done(1, Op::Read, found("x", 5), 7, 8),
            ],
            "a",
        );
    }

    #[test]
    fn unknown_version_is_bound_by_an_update() {
        let history = |read: Outcome| {
            vec![
                lost(0, create("x"), 0),
                done(1, update("y", 3), Outcome::Updated { version: 4 }, 5, 6),
                done(1, Op::Read, read, 7, 8),
            ]
        };
        assert_linearizable(history(found("y", 4)));
        assert_violation(history(found("x", 3)), "a");
    }

    #[test]
    fn unknown_update_version_exceeds_the_version_it_replaced() {
        let history = |read: Outcome| {
            vec![
                done(0, create("x"), Outcome::Created { version: 5 }, 0, 1),
                lost(0, update("y", 5), 2),
                done(1, Op::Read, read, 5, 6),
            ]
        };
        assert_linearizable(history(found("y", 6)));
        assert_violation(history(found("y", 5)), "a");
    }

    #[test]
    fn conflict_against_an_unknown_version_is_accepted() {
        assert_linearizable(vec![
            lost(0, create("x"), 0),
            done(1, update("y", 3), Outcome::Conflict, 5, 6),
            done(1, Op::Read, found("x", 3), 7, 8),
        ]);
    }

    #[test]
    fn malformed_entries_are_reported() {
        let violation = assert_violation(
            vec![done(0, Op::Read, Outcome::Created { version: 1 }, 0, 1)],
            "a",
        );
        assert!(
            violation.explanation.contains("cannot return"),
            "{violation}"
        );
        let violation = assert_violation(vec![done(0, Op::Read, Outcome::Absent, 5, 4)], "a");
        assert!(
            violation
                .explanation
                .contains("returned before it was called"),
            "{violation}"
        );
    }

    #[test]
    fn wall_clock_history_reports_times_since_it_began() {
        let history = History::new();
        let create = history.invoke(0, "cm", create("x"));
        history.complete(create, Outcome::Created { version: 1 });
        let read = history.invoke(1, "cm", Op::Read);
        history.complete(read, Outcome::Absent);
        let entries = history.entries();
        assert!(entries[0].ret < Some(entries[1].call), "{entries:?}");
        match history.check(BUDGET) {
            Verdict::Violation(violation) => {
                assert_eq!(violation.key, "cm");
                assert!(
                    violation
                        .explanation
                        .contains("Times are since the history began"),
                    "{violation}"
                );
                assert!(
                    violation.explanation.contains("ms, returned "),
                    "{violation}"
                );
            }
            other => panic!("a lost create went unnoticed: {other}"),
        }
    }

    /// xorshift64*.
    struct Rng(u64);

    impl Rng {
        fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound.max(1)
        }

        fn index(&mut self, len: usize) -> usize {
            self.below(len as u64) as usize
        }

        fn percent(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    /// A value a simulated object held, and the entry that wrote it.
    struct Install {
        value: String,
        version: u64,
        by: usize,
    }

    /// Atomic registers, one per key, taking versions from one counter as
    /// resourceVersions do, and keeping every value each held.
    struct Store {
        installs: Vec<Vec<Install>>,
        last_version: u64,
    }

    impl Store {
        fn new(keys: usize) -> Self {
            Self {
                installs: (0..keys).map(|_| Vec::new()).collect(),
                last_version: 0,
            }
        }

        /// Applies `op`, recorded as entry `by`, to `key` at once.
        fn apply(&mut self, key: usize, op: &Op, by: usize) -> Outcome {
            let current = self.installs[key].last().map(|install| install.version);
            match (op, current) {
                (Op::Create { value }, None) => Outcome::Created {
                    version: self.install(key, value, by),
                },
                (Op::Create { .. }, Some(_)) => Outcome::AlreadyExists,
                (Op::Update { .. }, None) => Outcome::NotFound,
                (
                    Op::Update {
                        value,
                        expected_version,
                    },
                    Some(version),
                ) if *expected_version == version => Outcome::Updated {
                    version: self.install(key, value, by),
                },
                (Op::Update { .. }, Some(_)) => Outcome::Conflict,
                (Op::Read, _) => self.installs[key]
                    .last()
                    .map_or(Outcome::Absent, |install| {
                        found(&install.value, install.version)
                    }),
            }
        }

        fn install(&mut self, key: usize, value: &str, by: usize) -> u64 {
            self.last_version += 1;
            self.installs[key].push(Install {
                value: value.to_string(),
                version: self.last_version,
                by,
            });
            self.last_version
        }
    }

    /// The size of a simulated workload.
    #[derive(Clone)]
    struct Shape {
        clients: usize,
        ops_per_client: usize,
        keys: usize,
        max_latency: u64,
        unknown_percent: u64,
    }

    impl Shape {
        fn random(rng: &mut Rng) -> Self {
            Self {
                clients: 2 + rng.index(7),
                ops_per_client: 5 + rng.index(30),
                keys: 1 + rng.index(3),
                max_latency: rng.below(7),
                unknown_percent: rng.below(15),
            }
        }

        fn big(keys: usize) -> Self {
            Self {
                clients: 20,
                ops_per_client: 200,
                keys,
                max_latency: 8,
                unknown_percent: 3,
            }
        }
    }

    /// A simulated client: the last version it saw of each key, and its
    /// operation in flight.
    struct Client {
        seen: Vec<Option<u64>>,
        flight: Option<InFlight>,
        ready_at: u64,
        issued: usize,
    }

    struct InFlight {
        entry: usize,
        key: usize,
        effect_at: u64,
        return_at: u64,
        outcome: Outcome,
        /// Whether the client learns the outcome.
        answered: bool,
        /// Whether it takes effect (always, unless unanswered).
        applies: bool,
    }

    /// Clients using a [`Store`] on a discrete clock: each operation takes
    /// effect at one tick inside its call..return window (or, unanswered,
    /// perhaps never).
    struct Simulation {
        rng: Rng,
        shape: Shape,
        clients: Vec<Client>,
        store: Store,
        entries: Vec<Entry>,
        /// Reads that took effect: (entry, key, index of the install seen).
        reads: Vec<(usize, usize, usize)>,
    }

    /// A read that could be made stale: `value` at `version` had been
    /// overwritten by an acknowledged write that returned before it was called.
    struct StaleRead {
        entry: usize,
        value: String,
        version: u64,
    }

    impl Simulation {
        fn run(seed: u64, shape: &Shape) -> Self {
            let client = || Client {
                seen: vec![None; shape.keys],
                flight: None,
                ready_at: 0,
                issued: 0,
            };
            let mut sim = Self {
                rng: Rng::new(seed),
                shape: shape.clone(),
                clients: (0..shape.clients).map(|_| client()).collect(),
                store: Store::new(shape.keys),
                entries: Vec::new(),
                reads: Vec::new(),
            };
            let mut now = 0;
            while sim.busy() {
                sim.invoke_ready(now);
                sim.apply_due(now);
                sim.return_due(now);
                now += 1;
            }
            sim
        }

        fn busy(&self) -> bool {
            let ops = self.shape.ops_per_client;
            self.clients
                .iter()
                .any(|c| c.issued < ops || c.flight.is_some())
        }

        fn invoke_ready(&mut self, now: u64) {
            for client in 0..self.clients.len() {
                let c = &self.clients[client];
                if c.flight.is_none() && c.issued < self.shape.ops_per_client && c.ready_at <= now {
                    let key = self.rng.index(self.shape.keys);
                    let op = self.choose_op(client, key);
                    let flight = self.invoke(client, key, op, now);
                    self.clients[client].issued += 1;
                    self.clients[client].flight = Some(flight);
                }
            }
        }

        fn choose_op(&mut self, client: usize, key: usize) -> Op {
            let c = &self.clients[client];
            let value = format!("c{client}-{}", c.issued);
            let rng = &mut self.rng;
            match (c.seen[key], rng.below(10)) {
                (None, 0..=4) => Op::Create { value },
                (None, 5) => update(&value, rng.below(self.store.last_version + 2)),
                (Some(version), 0..=3) => {
                    let stale = if rng.percent(20) { rng.below(3) } else { 0 };
                    update(&value, version.saturating_sub(stale))
                }
                (Some(_), 4) => Op::Create { value },
                _ => Op::Read,
            }
        }

        fn invoke(&mut self, client: usize, key: usize, op: Op, now: u64) -> InFlight {
            self.entries.push(Entry {
                client,
                key: format!("cm-{key}"),
                op,
                outcome: Outcome::Unknown,
                call: now,
                ret: None,
            });
            let latency = self.shape.max_latency + 1;
            let effect_at = now + self.rng.below(latency);
            let answered = !self.rng.percent(self.shape.unknown_percent);
            InFlight {
                entry: self.entries.len() - 1,
                key,
                effect_at,
                return_at: effect_at + self.rng.below(latency),
                outcome: Outcome::Unknown,
                answered,
                applies: answered || self.rng.percent(50),
            }
        }

        /// Applies the operations due now, in a random order.
        fn apply_due(&mut self, now: u64) {
            let mut due: Vec<usize> = (0..self.clients.len())
                .filter(|&c| {
                    self.clients[c]
                        .flight
                        .as_ref()
                        .is_some_and(|f| f.effect_at == now && f.applies)
                })
                .collect();
            for i in (1..due.len()).rev() {
                due.swap(i, self.rng.index(i + 1));
            }
            for client in due {
                if let Some(flight) = self.clients[client].flight.as_mut() {
                    let op = &self.entries[flight.entry].op;
                    flight.outcome = self.store.apply(flight.key, op, flight.entry);
                    if let Outcome::Found { .. } = flight.outcome {
                        let seen = self.store.installs[flight.key].len() - 1;
                        self.reads.push((flight.entry, flight.key, seen));
                    }
                }
            }
        }

        fn return_due(&mut self, now: u64) {
            for client in 0..self.clients.len() {
                let c = &mut self.clients[client];
                if c.flight.as_ref().is_some_and(|f| f.return_at == now)
                    && let Some(flight) = c.flight.take()
                {
                    if flight.answered {
                        c.seen[flight.key] = match flight.outcome {
                            Outcome::Created { version }
                            | Outcome::Updated { version }
                            | Outcome::Found { version, .. } => Some(version),
                            Outcome::Absent => None,
                            _ => c.seen[flight.key],
                        };
                    }
                    c.ready_at = now + self.rng.below(3);
                    let entry = &mut self.entries[flight.entry];
                    if flight.answered {
                        entry.outcome = flight.outcome;
                    }
                    // Half the unanswered ones time out, half are never heard of.
                    if flight.answered || flight.entry.is_multiple_of(2) {
                        entry.ret = Some(now);
                    }
                }
            }
        }

        fn acknowledged_before(&self, writer: usize, call: u64) -> bool {
            let entry = &self.entries[writer];
            matches!(
                entry.outcome,
                Outcome::Created { .. } | Outcome::Updated { .. }
            ) && entry.ret.is_some_and(|ret| ret < call)
        }

        /// Every (answered read, older value) pair where the older value had
        /// been overwritten by an acknowledged write before the read's call.
        fn stale_reads(&self) -> Vec<StaleRead> {
            let mut stale = Vec::new();
            for &(entry, key, seen) in &self.reads {
                let read = &self.entries[entry];
                if read.outcome == Outcome::Unknown {
                    continue;
                }
                let installs = &self.store.installs[key];
                for older in 0..seen {
                    if self.acknowledged_before(installs[older + 1].by, read.call) {
                        stale.push(StaleRead {
                            entry,
                            value: installs[older].value.clone(),
                            version: installs[older].version,
                        });
                    }
                }
            }
            stale
        }
    }

    #[test]
    fn simulated_register_histories_are_linearizable() {
        let mut rng = Rng::new(7);
        for seed in 0..300 {
            let sim = Simulation::run(seed, &Shape::random(&mut rng));
            let verdict = History::from_entries(sim.entries).check(BUDGET);
            assert!(verdict.is_linearizable(), "seed {seed}: {verdict}");
        }
    }

    #[test]
    fn simulated_histories_with_a_stale_read_are_violations() {
        let mut rng = Rng::new(11);
        let mut corrupted = 0;
        for seed in 0..300 {
            let mut sim = Simulation::run(seed, &Shape::random(&mut rng));
            let stale = sim.stale_reads();
            if stale.is_empty() {
                continue;
            }
            let pick = &stale[rng.index(stale.len())];
            let key = sim.entries[pick.entry].key.clone();
            sim.entries[pick.entry].outcome = found(&pick.value, pick.version);
            match History::from_entries(sim.entries).check(BUDGET) {
                Verdict::Violation(violation) => {
                    assert_eq!(violation.key, key, "seed {seed}: {violation}")
                }
                other => panic!("seed {seed}: a stale read went unnoticed: {other}"),
            }
            corrupted += 1;
        }
        assert!(
            corrupted >= 150,
            "only {corrupted} histories had a read to corrupt"
        );
    }

    #[test]
    fn twenty_clients_two_hundred_ops_four_keys_in_seconds() {
        let sim = Simulation::run(42, &Shape::big(4));
        let dropped_reads = sim
            .entries
            .iter()
            .filter(|e| e.op == Op::Read && e.outcome == Outcome::Unknown)
            .count();
        assert!(dropped_reads > 0, "the workload has unanswered reads");
        let verdict = History::from_entries(sim.entries).check(Duration::from_secs(5));
        assert_eq!(
            verdict,
            Verdict::Linearizable {
                ops: 4000 - dropped_reads,
                keys: 4
            }
        );
    }

    #[test]
    fn exhausted_budget_is_undecided_never_a_violation() {
        let sim = Simulation::run(5, &Shape::big(1));
        let history = History::from_entries(sim.entries);
        assert_eq!(
            history.check(Duration::ZERO),
            Verdict::Undecided {
                key: "cm-0".to_string()
            }
        );
        for micros in [1, 100, 1_000, 10_000] {
            let verdict = history.check(Duration::from_micros(micros));
            assert!(
                matches!(
                    verdict,
                    Verdict::Undecided { .. } | Verdict::Linearizable { .. }
                ),
                "{verdict}"
            );
        }
    }

    #[test]
    fn recorder_is_shared_between_threads() {
        let history = History::new();
        let store = Mutex::new(Store::new(1));
        std::thread::scope(|scope| {
            for client in 0..8 {
                let (history, store) = (history.clone(), &store);
                scope.spawn(move || run_store_client(client, &history, store));
            }
        });
        assert_eq!(history.len(), 8 * 50);
        let unanswered = history.entries().iter().filter(|e| e.ret.is_none()).count();
        assert_eq!(unanswered, 8 * 3);
        let verdict = history.check(BUDGET);
        assert!(verdict.is_linearizable(), "{verdict}");
    }

    /// Runs 50 operations against a mutex-guarded store, leaving three
    /// unanswered.
    fn run_store_client(client: usize, history: &History, store: &Mutex<Store>) {
        let mut rng = Rng::new(client as u64 + 1);
        let mut seen = 0;
        for n in 0..50 {
            let value = format!("c{client}-{n}");
            let op = match rng.below(3) {
                0 => Op::Create { value },
                1 => update(&value, seen),
                _ => Op::Read,
            };
            let id = history.invoke(client, "cm-0", op.clone());
            let outcome =
                store
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .apply(0, &op, id.index());
            if let Outcome::Found { version, .. }
            | Outcome::Updated { version }
            | Outcome::Created { version } = outcome
            {
                seen = version;
            }
            if n % 17 != 5 {
                history.complete(id, outcome);
            }
        }
    }

    /// Whether some order of `entries` (one key) is valid, by trying every
    /// order: an oracle for the search that shares only the model's step.
    fn linearizable_by_brute_force(entries: &[Entry]) -> bool {
        let mut values = Values::default();
        let ops: Vec<KeyOp> = entries
            .iter()
            .enumerate()
            .filter_map(|(id, entry)| KeyOp::new(id, entry, &mut values).ok().flatten())
            .collect();
        let mut placed = vec![false; ops.len()];
        extend_order(&ops, &mut placed, State::Absent)
    }

    fn extend_order(ops: &[KeyOp], placed: &mut [bool], state: State) -> bool {
        if ops
            .iter()
            .zip(placed.iter())
            .all(|(op, &done)| done || !op.is_known())
        {
            return true;
        }
        for next in 0..ops.len() {
            let call = ops[next].call;
            let must_come_first =
                |(op, &done): (&KeyOp, &bool)| !done && op.deadline.is_some_and(|ret| ret < call);
            if placed[next] || ops.iter().zip(placed.iter()).any(must_come_first) {
                continue;
            }
            if let Some(after) = ops[next].action.step(state) {
                placed[next] = true;
                if extend_order(ops, placed, after) {
                    return true;
                }
                placed[next] = false;
            }
        }
        false
    }

    /// A random small history on key "a", with repeated values and versions.
    fn random_small_history(rng: &mut Rng) -> Vec<Entry> {
        (0..1 + rng.index(7))
            .map(|_| {
                let (op, outcome) = random_small_op(rng);
                let call = rng.below(6);
                Entry {
                    client: 0,
                    key: "a".to_string(),
                    op,
                    outcome,
                    call,
                    ret: (!rng.percent(10)).then(|| call + rng.below(4)),
                }
            })
            .collect()
    }

    fn random_small_op(rng: &mut Rng) -> (Op, Outcome) {
        let names = ["p", "q", "r"];
        let value = names[rng.index(3)];
        let version = 1 + rng.below(4);
        match rng.below(3) {
            0 => {
                let outcomes = [
                    Outcome::Created { version },
                    Outcome::AlreadyExists,
                    Outcome::Unknown,
                ];
                (create(value), outcomes[rng.index(3)].clone())
            }
            1 => {
                let outcomes = [
                    Outcome::Updated { version },
                    Outcome::Conflict,
                    Outcome::NotFound,
                    Outcome::Unknown,
                ];
                (
                    update(value, 1 + rng.below(4)),
                    outcomes[rng.index(4)].clone(),
                )
            }
            _ => {
                let outcomes = [found(names[rng.index(3)], version), Outcome::Absent];
                (Op::Read, outcomes[rng.index(2)].clone())
            }
        }
    }

    /// A small simulated history on key "a" with one outcome swapped for
    /// another operation's (when the kinds match, or half the time anyway).
    fn tampered_small_history(rng: &mut Rng, seed: u64) -> Vec<Entry> {
        let shape = Shape {
            clients: 2 + rng.index(3),
            ops_per_client: 1 + rng.index(3),
            keys: 1,
            max_latency: rng.below(4),
            unknown_percent: 20,
        };
        let mut entries = Simulation::run(seed, &shape).entries;
        let (victim, donor) = (rng.index(entries.len()), rng.index(entries.len()));
        if entries[victim].op == entries[donor].op || rng.percent(50) {
            entries[victim].outcome = entries[donor].outcome.clone();
        }
        for entry in &mut entries {
            entry.key = "a".to_string();
        }
        entries
    }

    #[test]
    fn search_agrees_with_brute_force_on_small_histories() {
        let mut rng = Rng::new(3);
        let (mut accepted, mut rejected) = (0, 0);
        for case in 0..4000 {
            let entries = if case % 2 == 0 {
                random_small_history(&mut rng)
            } else {
                tampered_small_history(&mut rng, case)
            };
            let well_formed = entries
                .iter()
                .all(|e| Action::new(&e.op, &e.outcome, &mut Values::default()).is_ok());
            if !well_formed {
                continue;
            }
            let expected = linearizable_by_brute_force(&entries);
            let verdict = History::from_entries(entries.clone()).check(BUDGET);
            assert_eq!(
                verdict.is_linearizable(),
                expected,
                "{entries:#?}\n{verdict}"
            );
            if expected {
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
        assert!(
            accepted > 500 && rejected > 500,
            "accepted {accepted}, rejected {rejected}"
        );
    }
}
