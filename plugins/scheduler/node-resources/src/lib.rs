//! Scheduler plugin: Kubernetes' `NodeResourcesFit`, its filter and its scoring strategies.
//!
//! Filter: a node fits when, for cpu, memory, pods and each extended resource the pod
//! requests, what is allocatable minus what is already used covers the request; otherwise
//! it reports every resource that falls short ("Insufficient cpu", "Too many pods").
//! Score, by `scoringStrategy.type` in the configuration (the shape of Kubernetes'
//! `NodeResourcesFitArgs`):
//! - `LeastAllocated` (the default): the weighted mean over `scoringStrategy.resources`
//!   (cpu and memory, weight 1 each, by default) of the share left free after placing the
//!   pod, 0..=100: pods spread.
//! - `MostAllocated`: the share used instead: pods pack.
//!
//! The node table is resident: `sync_nodes` keeps each node's allocatable by its index,
//! so a call carries only indexes and usage columns. The logic is plain Rust over the SDK's
//! types ([`NodeResources`]), compiled natively as well for the benchmark's comparison.

use keel_sdk::scheduler::{
    Candidates, Capabilities, FilterResult, Node, PluginError, Pod, Resources, Rows, Scheduler,
};
use serde::Deserialize;

/// The largest score a node can get.
pub const MAX_SCORE: u64 = 100;

/// The plugin's configuration, as Kubernetes' `NodeResourcesFitArgs`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    scoring_strategy: Option<ScoringStrategy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScoringStrategy {
    #[serde(rename = "type", default)]
    kind: Strategy,
    #[serde(default)]
    resources: Option<Vec<ResourceWeight>>,
}

/// How a node's score follows from its usage.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    /// More left free scores higher.
    #[default]
    LeastAllocated,
    /// More used scores higher.
    MostAllocated,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceWeight {
    name: String,
    #[serde(default = "one")]
    weight: u64,
}

fn one() -> u64 {
    1
}

/// Which resource a score weight applies to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scored {
    Cpu,
    Memory,
}

/// NodeResourcesFit: what each node can allocate, by node index, and how to score.
pub struct NodeResources {
    allocatable: Rows<Resources>,
    strategy: Strategy,
    weights: Vec<(Scored, u64)>,
}

impl NodeResources {
    /// The plugin for a `NodeResourcesFitArgs`-shaped configuration (`null`: the defaults).
    pub fn from_config(config: &str) -> Result<NodeResources, PluginError> {
        let config: Option<Config> = serde_json::from_str(config)
            .map_err(|e| PluginError::new(format!("bad configuration: {e}")))?;
        let strategy = config.and_then(|c| c.scoring_strategy);
        let kind = strategy.as_ref().map(|s| s.kind).unwrap_or_default();
        let weights = match strategy.and_then(|s| s.resources) {
            None => vec![(Scored::Cpu, 1), (Scored::Memory, 1)],
            Some(resources) => resources
                .into_iter()
                .map(|r| match r.name.as_str() {
                    "cpu" => Ok((Scored::Cpu, r.weight)),
                    "memory" => Ok((Scored::Memory, r.weight)),
                    other => Err(PluginError::new(format!(
                        "bad configuration: scoringStrategy.resources: {other:?} is not cpu or memory"
                    ))),
                })
                .collect::<Result<_, _>>()?,
        };
        if weights.iter().all(|(_, w)| *w == 0) {
            return Err(PluginError::new(
                "bad configuration: scoringStrategy.resources weigh nothing",
            ));
        }
        Ok(NodeResources {
            allocatable: Rows::new("node"),
            strategy: kind,
            weights,
        })
    }

    /// The scoring strategy in force.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Adds or replaces `upserts` and forgets `removed`.
    pub fn sync(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.allocatable
            .sync(upserts, removed, |node| node.index, |node| node.allocatable);
    }

    /// NodeResourcesFit over every candidate. Each node's shortfalls are a bitmask (cpu,
    /// memory, pods, then each extended resource); reason strings are made once per
    /// distinct mask, not per node.
    pub fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        check_columns(pod, nodes)?;
        let request = &pod.requests;
        if request.extended.len() > MAX_EXTENDED {
            return Err(PluginError::new(format!(
                "at most {MAX_EXTENDED} extended resources per pod"
            )));
        }
        let n = nodes.index.len();
        let mut codes = Vec::with_capacity(n);
        let mut masks: Vec<u64> = Vec::new();
        for (i, &index) in nodes.index.iter().enumerate() {
            let node = self.allocatable.get(index)?;
            let mut mask = 0u64;
            if request.milli_cpu > 0
                && free(node.milli_cpu, nodes.used_milli_cpu[i]) < request.milli_cpu
            {
                mask |= CPU;
            }
            if request.memory > 0 && free(node.memory, nodes.used_memory[i]) < request.memory {
                mask |= MEMORY;
            }
            if free(node.pods, nodes.used_pods[i]) < 1 {
                mask |= PODS;
            }
            for (j, (name, amount)) in request.extended.iter().enumerate() {
                let have = node
                    .extended
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, a)| *a);
                if *amount > 0 && free(have, nodes.used_extended[j * n + i]) < *amount {
                    mask |= 1 << (FIRST_EXTENDED + j);
                }
            }
            if mask == 0 {
                codes.push(0);
                continue;
            }
            let position = match masks.iter().position(|&m| m == mask) {
                Some(position) => position,
                None => {
                    masks.push(mask);
                    masks.len() - 1
                }
            };
            codes.push(
                u16::try_from(position + 1)
                    .map_err(|_| PluginError::new("too many distinct reasons"))?,
            );
        }
        let reasons = masks.iter().map(|&mask| reasons(mask, request)).collect();
        Ok(FilterResult { codes, reasons })
    }

    /// The strategy's score for every candidate.
    pub fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        check_columns(pod, nodes)?;
        let request = &pod.requests;
        let total_weight: u64 = self.weights.iter().map(|(_, w)| w).sum();
        let mut scores = Vec::with_capacity(nodes.index.len());
        for (i, &index) in nodes.index.iter().enumerate() {
            let node = self.allocatable.get(index)?;
            let mut sum = 0;
            for &(resource, weight) in &self.weights {
                let (capacity, requested) = match resource {
                    Scored::Cpu => (
                        node.milli_cpu,
                        nodes.used_milli_cpu[i].saturating_add(request.milli_cpu),
                    ),
                    Scored::Memory => (
                        node.memory,
                        nodes.used_memory[i].saturating_add(request.memory),
                    ),
                };
                let score = match self.strategy {
                    Strategy::LeastAllocated => least_allocated(capacity, requested),
                    Strategy::MostAllocated => most_allocated(capacity, requested),
                };
                sum += score * weight;
            }
            scores.push((sum / total_weight) as u32);
        }
        Ok(scores)
    }
}

const CPU: u64 = 1;
const MEMORY: u64 = 1 << 1;
const PODS: u64 = 1 << 2;
const FIRST_EXTENDED: usize = 3;
/// Extended resources a pod may request (bits of the shortfall mask).
pub const MAX_EXTENDED: usize = 64 - FIRST_EXTENDED;

/// The reasons a shortfall mask stands for, as Kubernetes words them.
fn reasons(mask: u64, request: &Resources) -> Vec<String> {
    let mut reasons = Vec::new();
    for (bit, reason) in [
        (CPU, "Insufficient cpu"),
        (MEMORY, "Insufficient memory"),
        (PODS, "Too many pods"),
    ] {
        if mask & bit != 0 {
            reasons.push(reason.to_string());
        }
    }
    for (j, (name, _)) in request.extended.iter().enumerate() {
        if mask & (1 << (FIRST_EXTENDED + j)) != 0 {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

fn free(allocatable: u64, used: u64) -> u64 {
    allocatable.saturating_sub(used)
}

/// `(capacity - requested) * 100 / capacity`, 0 when nothing is left or nothing is there.
fn least_allocated(capacity: u64, requested: u64) -> u64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    share(capacity - requested, capacity)
}

/// `requested * 100 / capacity`, capped at 100 (Kubernetes' `MostAllocated`).
fn most_allocated(capacity: u64, requested: u64) -> u64 {
    if capacity == 0 {
        return 0;
    }
    share(requested.min(capacity), capacity)
}

/// `part * 100 / whole` for `part <= whole`, in u64 arithmetic (128-bit division is a
/// slow library call in WebAssembly): exact unless `part * 100` overflows, which needs
/// capacities beyond 10^17 (then it divides first and loses under one point).
fn share(part: u64, whole: u64) -> u64 {
    match part.checked_mul(MAX_SCORE) {
        Some(scaled) => scaled / whole,
        None => part / (whole / MAX_SCORE).max(1),
    }
}

fn check_columns(pod: &Pod, nodes: &Candidates) -> Result<(), PluginError> {
    let n = nodes.index.len();
    let columns = [
        nodes.used_milli_cpu.len(),
        nodes.used_memory.len(),
        nodes.used_pods.len(),
    ];
    if columns.iter().any(|&len| len != n)
        || nodes.used_extended.len() != n * pod.requests.extended.len()
    {
        return Err(PluginError::new("candidate columns differ in length"));
    }
    Ok(())
}

impl Scheduler for NodeResources {
    fn new(config: &str) -> Result<Self, PluginError> {
        NodeResources::from_config(config)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FILTER.scoring().with_usage()
    }

    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.sync(upserts, removed);
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        NodeResources::filter(self, pod, nodes)
    }

    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        NodeResources::score(self, pod, nodes)
    }
}

keel_sdk::export_scheduler!(NodeResources);
