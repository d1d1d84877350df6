//! Simulated register workloads: concurrent clients against an atomic
//! register, checked as linearizable, and with a stale read planted, checked
//! as a violation; the recorder shared between threads; the budget.

use super::*;

/// xorshift64*.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(super) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    pub(super) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    pub(super) fn percent(&mut self, percent: u64) -> bool {
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
pub(super) struct Shape {
    pub(super) clients: usize,
    pub(super) ops_per_client: usize,
    pub(super) keys: usize,
    pub(super) max_latency: u64,
    pub(super) unknown_percent: u64,
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
pub(super) struct Simulation {
    rng: Rng,
    shape: Shape,
    clients: Vec<Client>,
    store: Store,
    pub(super) entries: Vec<Entry>,
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
    pub(super) fn run(seed: u64, shape: &Shape) -> Self {
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
