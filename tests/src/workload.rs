//! A client load for cluster tests: threads that create, update (with a
//! resourceVersion precondition) and read a few ConfigMaps through random
//! members, recording every operation for the linearizability checker, and
//! create uniquely named ConfigMaps whose acknowledgements are kept, so a test
//! can check that no acknowledged write was lost.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

use crate::http_to;
use crate::linearizability::{History, Op, Outcome};

/// The namespace the load writes in.
pub const NAMESPACE: &str = "default";
/// How long one request may take before its outcome counts as unknown.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How the load is shaped.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Concurrent clients.
    pub clients: usize,
    /// Keys the register operations share (ConfigMaps `lin-0`, `lin-1`, ...).
    pub keys: usize,
    /// A pause between one client's operations.
    pub pause: Duration,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            clients: 6,
            keys: 4,
            pause: Duration::from_millis(5),
        }
    }
}

/// Counts of what the clients saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    /// Operations with a definite outcome.
    pub definite: usize,
    /// Writes whose outcome the client never learned.
    pub unknown: usize,
    /// Unique creates acknowledged.
    pub acknowledged: usize,
}

/// A running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
    /// Every register operation, for the checker.
    pub history: History,
    acknowledged: Arc<Mutex<Vec<String>>>,
}

/// The targets a load sends to; a test may change them while it runs (a member
/// removed, a member added).
pub type Targets = Arc<Mutex<Vec<SocketAddr>>>;

impl Load {
    /// Starts the load against the API addresses in `targets`.
    pub fn start(targets: Targets, shape: Shape) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let history = History::new();
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..shape.clients)
            .map(|client| {
                let worker = Worker {
                    client,
                    targets: targets.clone(),
                    shape: shape.clone(),
                    history: history.clone(),
                    acknowledged: acknowledged.clone(),
                    rng: 0x9e37_79b9_7f4a_7c15 ^ (client as u64 + 1).wrapping_mul(0x2545_f491),
                    versions: vec![None; shape.keys],
                    tally: Tally::default(),
                    serial: 0,
                };
                let stop = stop.clone();
                std::thread::spawn(move || worker.run(&stop))
            })
            .collect();
        Load {
            stop,
            threads,
            history,
            acknowledged,
        }
    }

    /// Stops the clients and returns what they saw and the acknowledged unique names.
    pub fn stop(self) -> (Tally, Vec<String>, History) {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = Tally::default();
        for thread in self.threads {
            if let Ok(t) = thread.join() {
                total.definite += t.definite;
                total.unknown += t.unknown;
                total.acknowledged += t.acknowledged;
            }
        }
        let acknowledged = self
            .acknowledged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        (total, acknowledged, self.history)
    }
}

struct Worker {
    client: usize,
    targets: Targets,
    shape: Shape,
    history: History,
    acknowledged: Arc<Mutex<Vec<String>>>,
    rng: u64,
    /// The version this client last saw of each key.
    versions: Vec<Option<u64>>,
    tally: Tally,
    serial: u64,
}

/// What one request came back with.
enum Answer {
    Status(u16, Value),
    Lost,
}

impl Worker {
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn run(mut self, stop: &AtomicBool) -> Tally {
        while !stop.load(Ordering::SeqCst) {
            let targets = self
                .targets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if targets.is_empty() {
                std::thread::sleep(self.shape.pause);
                continue;
            }
            let target = targets[(self.next() % targets.len() as u64) as usize];
            let key = (self.next() % self.shape.keys as u64) as usize;
            match self.next() % 20 {
                0..=6 => self.read(target, key),
                7..=9 => self.create(target, key),
                10..=16 => self.update(target, key),
                _ => self.create_unique(target),
            }
            std::thread::sleep(self.shape.pause);
        }
        self.tally
    }

    fn value(&mut self) -> String {
        self.serial += 1;
        format!("c{}-{}", self.client, self.serial)
    }

    fn send(&self, target: SocketAddr, method: &str, path: &str, body: &Value) -> Answer {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        match http_to(target, method, path, &[], &bytes, REQUEST_TIMEOUT) {
            Ok((code, _, text)) => {
                Answer::Status(code, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(_) => Answer::Lost,
        }
    }

    fn record(&mut self, outcome: &Outcome) {
        if *outcome == Outcome::Unknown {
            self.tally.unknown += 1;
        } else {
            self.tally.definite += 1;
        }
    }

    fn read(&mut self, target: SocketAddr, key: usize) {
        let name = format!("lin-{key}");
        let id = self.history.invoke(self.client, &name, Op::Read);
        let path = format!("/api/v1/namespaces/{NAMESPACE}/configmaps/{name}");
        let outcome = match self.send(target, "GET", &path, &Value::Null) {
            Answer::Status(200, object) => match (value_of(&object), version_of(&object)) {
                (Some(value), Some(version)) => {
                    self.versions[key] = Some(version);
                    Outcome::Found { value, version }
                }
                _ => Outcome::Unknown,
            },
            Answer::Status(404, _) => Outcome::Absent,
            _ => Outcome::Unknown,
        };
        self.record(&outcome);
        self.history.complete(id, outcome);
    }

    fn create(&mut self, target: SocketAddr, key: usize) {
        let name = format!("lin-{key}");
        let value = self.value();
        let id = self.history.invoke(
            self.client,
            &name,
            Op::Create {
                value: value.clone(),
            },
        );
        let body = json!({"metadata": {"name": name}, "data": {"v": value}});
        let path = format!("/api/v1/namespaces/{NAMESPACE}/configmaps");
        let outcome = match self.send(target, "POST", &path, &body) {
            Answer::Status(201, object) => match version_of(&object) {
                Some(version) => {
                    self.versions[key] = Some(version);
                    Outcome::Created { version }
                }
                None => Outcome::Unknown,
            },
            Answer::Status(409, status) if reason(&status) == "AlreadyExists" => {
                Outcome::AlreadyExists
            }
            _ => Outcome::Unknown,
        };
        self.record(&outcome);
        self.history.complete(id, outcome);
    }

    fn update(&mut self, target: SocketAddr, key: usize) {
        let Some(expected) = self.versions[key] else {
            return self.read(target, key);
        };
        let name = format!("lin-{key}");
        let value = self.value();
        let op = Op::Update {
            value: value.clone(),
            expected_version: expected,
        };
        let id = self.history.invoke(self.client, &name, op);
        let body = json!({"metadata": {"name": name, "resourceVersion": expected.to_string()},
                          "data": {"v": value}});
        let path = format!("/api/v1/namespaces/{NAMESPACE}/configmaps/{name}");
        let outcome = match self.send(target, "PUT", &path, &body) {
            Answer::Status(200, object) => match version_of(&object) {
                Some(version) => {
                    self.versions[key] = Some(version);
                    Outcome::Updated { version }
                }
                None => Outcome::Unknown,
            },
            Answer::Status(409, status) if reason(&status) == "Conflict" => Outcome::Conflict,
            Answer::Status(404, _) => Outcome::NotFound,
            _ => Outcome::Unknown,
        };
        self.record(&outcome);
        self.history.complete(id, outcome);
    }

    fn create_unique(&mut self, target: SocketAddr) {
        let name = format!("ack-{}", self.value());
        let body = json!({"metadata": {"name": name}, "data": {"v": "acknowledged"}});
        let path = format!("/api/v1/namespaces/{NAMESPACE}/configmaps");
        if let Answer::Status(201, _) = self.send(target, "POST", &path, &body) {
            self.tally.acknowledged += 1;
            self.acknowledged
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(name);
        }
    }
}

fn version_of(object: &Value) -> Option<u64> {
    object["metadata"]["resourceVersion"].as_str()?.parse().ok()
}

fn value_of(object: &Value) -> Option<String> {
    object["data"]["v"].as_str().map(str::to_string)
}

fn reason(status: &Value) -> &str {
    status["reason"].as_str().unwrap_or_default()
}
