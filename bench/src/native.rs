//! The default scheduler plugins compiled natively, as a [`PluginSet`] the kernel's
//! scheduler runs in place of the WebAssembly ones: the same plugin code, called directly,
//! for the benchmark's WASM/native ratio.
//!
//! Each call converts the kernel's records to the SDK's (what the WebAssembly boundary
//! does too, copying into linear memory) and keeps the plugin's resident tables in step
//! the way the plugin host does, through [`SyncedTable::changes_since`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use keel::plugin::calls::{self as k, Candidates, Capabilities, FilterResult, Pod};
use keel::plugin::{CallError, CallErrorKind, FailurePolicy, SyncedTable, Tables};
use keel::scheduler::{PluginSet, Plugins, SchedulingPlugin};
use keel_sdk::scheduler::{self as sdk, Scheduler};

/// A native plugin and the generations of the tables it holds.
struct State<T> {
    plugin: T,
    nodes: Option<u64>,
    usage: Option<u64>,
    pods: Option<u64>,
}

/// A native plugin behind the kernel's [`SchedulingPlugin`].
pub struct Native<T> {
    name: String,
    weight: u32,
    state: Mutex<State<T>>,
    capabilities: Capabilities,
    nanos: AtomicU64,
    calls: AtomicU64,
}

impl<T: Scheduler + Send> Native<T> {
    /// The plugin `T` built from its default configuration.
    pub fn new(name: &str, weight: u32) -> anyhow::Result<Native<T>> {
        let plugin = T::new("null").map_err(|e| anyhow::anyhow!("{name}: {}", e.message))?;
        let c = plugin.capabilities();
        Ok(Native {
            name: name.to_string(),
            weight,
            capabilities: Capabilities {
                filters: c.filters,
                scores: c.scores,
                reads_usage: c.reads_usage,
                reads_pods: c.reads_pods,
                filter_needs: c.filter_needs.map(fields),
                score_needs: c.score_needs.map(fields),
            },
            state: Mutex::new(State {
                plugin,
                nodes: None,
                usage: None,
                pods: None,
            }),
            nanos: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        })
    }

    fn with<R>(
        &self,
        tables: Tables<'_>,
        call: impl FnOnce(&T) -> Result<R, sdk::PluginError>,
    ) -> Result<R, CallError> {
        let start = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let State {
            plugin,
            nodes,
            usage: usage_held,
            pods: pods_held,
        } = &mut *state;
        sync(nodes, tables.nodes, |up, rm| {
            plugin.sync_nodes(up.into_iter().map(node).collect(), rm)
        });
        if let Some(table) = tables.usage {
            sync(usage_held, table, |up, rm| {
                plugin.sync_usage(up.into_iter().map(usage).collect(), rm)
            });
        }
        if let Some(pods) = tables.pods {
            sync(pods_held, pods, |up, rm| {
                plugin.sync_pods(up.into_iter().map(placed).collect(), rm)
            });
        }
        let result = call(plugin).map_err(|e| CallError {
            plugin: self.name.clone(),
            kind: CallErrorKind::Plugin(e.message),
        });
        self.nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        result
    }
}

fn sync<R>(
    held: &mut Option<u64>,
    table: &dyn SyncedTable<R>,
    send: impl FnOnce(Vec<R>, Vec<u32>),
) {
    let generation = table.generation();
    if *held == Some(generation) {
        return;
    }
    match held.and_then(|g| table.changes_since(g)) {
        Some((upserts, removed)) => send(upserts, removed),
        None => send(table.all(), Vec::new()),
    }
    *held = Some(generation);
}

impl<T: Scheduler + Send> SchedulingPlugin for Native<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn weight(&self) -> u32 {
        self.weight
    }
    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
    fn filter(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<FilterResult, CallError> {
        let (pod, candidates) = (to_pod(pod), to_candidates(candidates));
        self.with(tables, |p| p.filter(&pod, &candidates))
            .map(|r| FilterResult {
                codes: r.codes,
                reasons: r.reasons,
            })
    }
    fn score(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<Vec<u32>, CallError> {
        let (pod, candidates) = (to_pod(pod), to_candidates(candidates));
        self.with(tables, |p| p.score(&pod, &candidates))
    }
}

/// A plugin whose calls are timed.
pub trait Timed: Send + Sync {
    /// Mean time per call, in microseconds.
    fn mean_micros(&self) -> f64;
}

impl<T: Scheduler + Send> Timed for Native<T> {
    fn mean_micros(&self) -> f64 {
        let calls = self.calls.load(Ordering::Relaxed).max(1);
        self.nanos.load(Ordering::Relaxed) as f64 / calls as f64 / 1000.0
    }
}

/// A fixed list of plugins.
pub struct FixedSet(pub Plugins);

impl PluginSet for FixedSet {
    fn current(&self) -> Plugins {
        self.0.clone()
    }
}

fn fields(f: sdk::PodFields) -> k::PodFields {
    let mut out = k::PodFields::empty();
    for (sdk_flag, flag) in [
        (sdk::PodFields::NODE_NAME, k::PodFields::NODE_NAME),
        (sdk::PodFields::NODE_SELECTOR, k::PodFields::NODE_SELECTOR),
        (sdk::PodFields::AFFINITY, k::PodFields::AFFINITY),
        (
            sdk::PodFields::TOPOLOGY_SPREAD,
            k::PodFields::TOPOLOGY_SPREAD,
        ),
        (
            sdk::PodFields::PLACED_POD_AFFINITY,
            k::PodFields::PLACED_POD_AFFINITY,
        ),
    ] {
        if f.contains(sdk_flag) {
            out |= flag;
        }
    }
    out
}

fn resources(r: &k::Resources) -> sdk::Resources {
    sdk::Resources {
        milli_cpu: r.milli_cpu,
        memory: r.memory,
        pods: r.pods,
        extended: r.extended.clone(),
    }
}

fn effect(e: k::TaintEffect) -> sdk::TaintEffect {
    match e {
        k::TaintEffect::NoSchedule => sdk::TaintEffect::NoSchedule,
        k::TaintEffect::PreferNoSchedule => sdk::TaintEffect::PreferNoSchedule,
        k::TaintEffect::NoExecute => sdk::TaintEffect::NoExecute,
    }
}

fn node(n: k::Node) -> sdk::Node {
    sdk::Node {
        index: n.index,
        name: n.name,
        labels: n.labels,
        taints: n
            .taints
            .into_iter()
            .map(|t| sdk::Taint {
                key: t.key,
                value: t.value,
                effect: effect(t.effect),
            })
            .collect(),
        unschedulable: n.unschedulable,
        allocatable: resources(&n.allocatable),
    }
}

fn placed(p: k::PlacedPod) -> sdk::PlacedPod {
    sdk::PlacedPod {
        index: p.index,
        namespace: p.namespace,
        labels: p.labels,
        node: p.node,
        affinity_json: p.affinity_json,
    }
}

fn to_pod(p: &Pod) -> sdk::Pod {
    sdk::Pod {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        labels: p.labels.clone(),
        node_name: p.node_name.clone(),
        node_selector: p.node_selector.clone(),
        tolerations: p
            .tolerations
            .iter()
            .map(|t| sdk::Toleration {
                key: t.key.clone(),
                operator: match t.operator {
                    k::TolerationOperator::Equal => sdk::TolerationOperator::Equal,
                    k::TolerationOperator::Exists => sdk::TolerationOperator::Exists,
                },
                value: t.value.clone(),
                effect: t.effect.map(effect),
            })
            .collect(),
        requests: resources(&p.requests),
        affinity_json: p.affinity_json.clone(),
        topology_spread_json: p.topology_spread_json.clone(),
    }
}

fn to_candidates(c: &Candidates) -> sdk::Candidates {
    sdk::Candidates {
        index: c.index.clone(),
    }
}

fn usage(u: k::NodeUsage) -> sdk::NodeUsage {
    sdk::NodeUsage {
        node: u.node,
        used: resources(&u.used),
    }
}
