//! Tests of the checker: hand-written histories, simulated register workloads
//! (linearizable, and with a stale read planted), and a brute-force oracle on
//! small histories.

use super::model::{Action, KeyOp, State, Values};
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
