//! The scheduling host: places pods that have no node on one, with filters and scorers
//! that are WebAssembly plugins.
//!
//! - [`pod`], [`node`]: what the scheduler reads from Pods and Nodes.
//! - [`table`], [`snapshot`]: the nodes, their usage and the placed pods, kept as the
//!   resident tables plugins sync with.
//! - [`queue`]: active (priority, then age), back-off and unschedulable pods.
//! - [`framework`]: the plugins a cycle runs ([`CatalogPlugins`]: the catalog's, live).
//! - [`cycle`]: one cycle: filter, score, select.
//! - [`writes`]: binding, and the condition and Event of a pod that fits nowhere.
//!
//! Two watchers (pods, nodes) feed one scheduling thread through a channel. The thread
//! owns the snapshot and the queue, so a cycle sees one consistent state; a chosen node is
//! assumed in the snapshot at once, and the binding runs as a task beside the next cycles.
//! A failed binding forgets the assumption and backs the pod off.
//!
//! **Invariant**: a pod is bound at most once by this scheduler: it is in flight from the
//! cycle that places it until its binding answers, and ignored by the queue meanwhile.

pub mod cycle;
pub mod framework;
pub mod node;
pub mod pod;
pub mod queue;
pub mod snapshot;
pub mod table;
pub mod writes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use framework::{CatalogPlugins, PluginSet, Plugins, SchedulingPlugin, WasmPlugin};

use crate::client::{WatchEvent, Watcher};
use crate::registry::Objects;
use cycle::{Cycles, Decision};
use pod::{PodInfo, PodKey};
use queue::Queue;
use snapshot::Snapshot;
use writes::Writer;

/// How a scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The `spec.schedulerName` it serves (pods that leave it unset are served too).
    pub name: String,
    /// Kubernetes' `percentageOfNodesToScore`; none adapts it to the cluster's size.
    pub percentage_of_nodes_to_score: Option<u32>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            name: writes::COMPONENT.to_string(),
            percentage_of_nodes_to_score: None,
        }
    }
}

/// Counters of a running scheduler (for `bench/` and the logs).
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Scheduling cycles run.
    pub cycles: AtomicU64,
    /// Time in cycles (filter, score and select), in nanoseconds.
    pub cycle_nanos: AtomicU64,
    /// Pods bound.
    pub bound: AtomicU64,
    /// Bindings that failed.
    pub bind_failures: AtomicU64,
    /// Time from a cycle's decision to its binding's answer, summed, in nanoseconds.
    pub bind_nanos: AtomicU64,
    /// Cycles that found no node.
    pub unschedulable: AtomicU64,
    /// Cycles a plugin failed.
    pub errors: AtomicU64,
}

/// What the scheduling thread hears.
enum Event {
    Pods(WatchEvent),
    Nodes(WatchEvent),
    Bound {
        key: PodKey,
        uid: String,
        node: String,
        result: Result<(), String>,
        took: Duration,
    },
    Stop,
}

/// A running scheduler; dropping it (or [`Scheduler::stop`]) ends it.
pub struct Scheduler {
    tx: Sender<Event>,
    watchers: Vec<tokio::task::JoinHandle<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<SchedulerStats>,
}

impl Scheduler {
    /// Starts scheduling the pods of `objects` with `plugins`. Must be called within a
    /// tokio runtime (bindings run on it).
    pub fn start(
        objects: Objects,
        plugins: Arc<dyn PluginSet>,
        config: SchedulerConfig,
    ) -> std::io::Result<Scheduler> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(SchedulerStats::default());
        let pods = objects.kinds().by_path("", "v1", "pods");
        let nodes = objects.kinds().by_path("", "v1", "nodes");
        let writer = Writer::new(objects.clone());
        let (Some(pods), Some(nodes), Some(writer)) = (pods, nodes, writer) else {
            return Err(std::io::Error::other(
                "the registry serves no pods, nodes or events",
            ));
        };
        let watchers = vec![
            follow(Watcher::new(objects.clone(), pods), tx.clone(), Event::Pods),
            follow(
                Watcher::new(objects.clone(), nodes),
                tx.clone(),
                Event::Nodes,
            ),
        ];
        let host = Host {
            writer,
            plugins,
            served: config.name,
            cycles: Cycles::new(config.percentage_of_nodes_to_score),
            snapshot: Snapshot::default(),
            queue: Queue::default(),
            assumed: HashMap::new(),
            stats: stats.clone(),
            runtime: tokio::runtime::Handle::current(),
            tx: tx.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("keel-scheduler".into())
            .spawn(move || host.run(rx))?;
        Ok(Scheduler {
            tx,
            watchers,
            thread: Some(thread),
            stats,
        })
    }

    /// Its counters.
    pub fn stats(&self) -> &Arc<SchedulerStats> {
        &self.stats
    }

    /// Stops watching and waits for the scheduling thread to end (bindings in flight
    /// finish on their own).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        for watcher in self.watchers.drain(..) {
            watcher.abort();
        }
        let _ = self.tx.send(Event::Stop);
        if let Some(thread) = self.thread.take() {
            // It stops after the cycle under way, if any.
            let _ = thread.join();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Forwards a watcher's events until the scheduler is gone.
fn follow(
    mut watcher: Watcher,
    tx: Sender<Event>,
    wrap: fn(WatchEvent) -> Event,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let event = watcher.next().await;
            if matches!(event, WatchEvent::Bookmark(_)) {
                continue;
            }
            if tx.send(wrap(event)).is_err() {
                return;
            }
        }
    })
}

/// The scheduling thread's state.
struct Host {
    writer: Writer,
    plugins: Arc<dyn PluginSet>,
    served: String,
    cycles: Cycles,
    snapshot: Snapshot,
    queue: Queue,
    /// Pods placed by a cycle whose binding has not been confirmed, and where.
    assumed: HashMap<PodKey, String>,
    stats: Arc<SchedulerStats>,
    runtime: tokio::runtime::Handle,
    tx: Sender<Event>,
}

/// The longest the thread sleeps with nothing to do.
const IDLE: Duration = Duration::from_secs(1);

impl Host {
    fn run(mut self, rx: Receiver<Event>) {
        loop {
            loop {
                match rx.try_recv() {
                    Ok(Event::Stop) => return,
                    Ok(event) => self.handle(event),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            let now = Instant::now();
            if let Some(pod) = self.queue.pop(now) {
                self.schedule(pod);
                continue;
            }
            let wait = self
                .queue
                .next_due()
                .map_or(IDLE, |due| due.saturating_duration_since(now))
                .min(IDLE);
            match rx.recv_timeout(wait) {
                Ok(Event::Stop) => return,
                Ok(event) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn handle(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Pods(WatchEvent::Applied(pod)) => self.pod_applied(&pod, now),
            Event::Pods(WatchEvent::Deleted(pod)) => {
                if let Some(info) = PodInfo::from_object(&pod) {
                    self.pod_gone(&info.key, now);
                }
            }
            Event::Pods(WatchEvent::Restarted(pods)) => {
                let present: HashSet<PodKey> = pods
                    .iter()
                    .filter_map(|pod| PodInfo::from_object(pod))
                    .map(|p| p.key)
                    .collect();
                for key in self.snapshot.placed_keys() {
                    if !present.contains(&key) {
                        self.pod_gone(&key, now);
                    }
                }
                for key in self.queue.keys() {
                    if !present.contains(&key) {
                        self.queue.remove(&key);
                    }
                }
                for pod in &pods {
                    self.pod_applied(pod, now);
                }
            }
            Event::Nodes(WatchEvent::Applied(node)) => {
                // Only a change the plugins can see may make a parked pod fit.
                if self.snapshot.upsert_node(&node) {
                    self.queue.cluster_changed(now);
                }
            }
            Event::Nodes(WatchEvent::Deleted(node)) => {
                if let Some(name) = node.pointer("/metadata/name").and_then(Value::as_str) {
                    self.snapshot.remove_node(name);
                }
            }
            Event::Nodes(WatchEvent::Restarted(nodes)) => {
                let names: HashSet<String> = nodes
                    .iter()
                    .filter_map(|n| n.pointer("/metadata/name").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect();
                self.snapshot.retain_nodes(&names);
                let mut changed = false;
                for node in &nodes {
                    changed |= self.snapshot.upsert_node(node);
                }
                if changed {
                    self.queue.cluster_changed(now);
                }
            }
            Event::Pods(WatchEvent::Bookmark(_))
            | Event::Nodes(WatchEvent::Bookmark(_))
            | Event::Stop => {}
            Event::Bound {
                key,
                uid,
                node,
                result,
                took,
            } => self.bound(key, &uid, &node, result, took, now),
        }
    }

    fn pod_applied(&mut self, object: &Value, now: Instant) {
        let Some(pod) = PodInfo::from_object(object) else {
            return;
        };
        if pod.done {
            self.pod_gone(&pod.key, now);
            return;
        }
        if !pod.node_name.is_empty() {
            // Bound (by this scheduler or another): it holds its node.
            self.assumed.remove(&pod.key);
            // A bound pod's labels may change: the pod table must say what rules see.
            if !self.snapshot.holds(&pod, &pod.node_name) {
                self.snapshot.place(&pod, &pod.node_name);
            }
            self.queue.remove(&pod.key);
            return;
        }
        let ours = pod.scheduler_name.is_empty() || pod.scheduler_name == self.served;
        if !ours {
            self.queue.remove(&pod.key);
        } else if !self.queue.in_flight(&pod.key) {
            self.queue.upsert(pod);
        }
    }

    fn pod_gone(&mut self, key: &PodKey, now: Instant) {
        self.queue.remove(key);
        self.assumed.remove(key);
        if self.snapshot.unplace(key) {
            self.queue.cluster_changed(now);
        }
    }

    fn schedule(&mut self, pod: PodInfo) {
        let plugins = self.plugins.current();
        let start = Instant::now();
        let decision = self.cycles.run(&self.snapshot, &plugins, &pod.record);
        self.stats.cycles.fetch_add(1, Ordering::Relaxed);
        self.stats
            .cycle_nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match decision {
            Decision::Place { node, .. } => {
                let Some(node) = self.snapshot.node_name(node).map(str::to_string) else {
                    return;
                };
                self.snapshot.place(&pod, &node);
                self.assumed.insert(pod.key.clone(), node.clone());
                let writer = self.writer.clone();
                let tx = self.tx.clone();
                self.runtime.spawn(async move {
                    let began = Instant::now();
                    let result = writer
                        .bind(&pod.key, &pod.uid, &node)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Event::Bound {
                        key: pod.key,
                        uid: pod.uid,
                        node,
                        result,
                        took: began.elapsed(),
                    });
                });
            }
            Decision::Unschedulable(message) => {
                self.stats.unschedulable.fetch_add(1, Ordering::Relaxed);
                self.queue.failed(&pod.key, true, Instant::now());
                self.report(pod, message, true);
            }
            Decision::Error(message) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(pod = %pod.key, "{message}");
                self.queue.failed(&pod.key, false, Instant::now());
                self.report(pod, message, false);
            }
        }
    }

    /// Writes a failure once per distinct message.
    fn report(&mut self, pod: PodInfo, message: String, unschedulable: bool) {
        if !self.queue.note_failure(&pod.key, &message) {
            return;
        }
        let writer = self.writer.clone();
        self.runtime.spawn(async move {
            if let Err(error) = writer.report_failure(&pod, &message, unschedulable).await {
                tracing::debug!(pod = %pod.key, %error, "could not report a scheduling failure");
            }
        });
    }

    fn bound(
        &mut self,
        key: PodKey,
        uid: &str,
        node: &str,
        result: Result<(), String>,
        took: Duration,
        now: Instant,
    ) {
        self.stats
            .bind_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        match result {
            Ok(()) => {
                self.stats.bound.fetch_add(1, Ordering::Relaxed);
                self.queue.remove(&key);
            }
            Err(error) => {
                self.stats.bind_failures.fetch_add(1, Ordering::Relaxed);
                tracing::info!(pod = %key, node, %error, "binding failed; the pod is tried again");
                if self.assumed.get(&key).is_some_and(|n| n == node)
                    && self.snapshot.placement(&key) == Some((uid, node))
                {
                    self.assumed.remove(&key);
                    self.snapshot.unplace(&key);
                }
                self.queue.failed(&key, false, now);
            }
        }
    }
}
