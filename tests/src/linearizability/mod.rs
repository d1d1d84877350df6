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

mod model;
mod report;
mod search;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use model::{KeyOp, Values};
use report::{Report, explain_malformed};
use search::{Search, SearchEnd};

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
