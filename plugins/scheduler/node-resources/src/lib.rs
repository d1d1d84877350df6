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
//! Both tables are resident, by node index: `sync_nodes` keeps each node's allocatable and
//! `sync_usage` what the pods bound or assumed on it request (cpu, memory, pods and
//! extended resources by name; a node with no usage row has nothing allocated), so a call
//! carries only the candidates' indexes. The logic is plain Rust over the SDK's types
//! ([`NodeResources`]), compiled natively as well for the benchmark's comparison.

use keel_sdk::scheduler::{
    Candidates, Capabilities, FilterResult, Node, NodeUsage, PluginError, Pod, Resources, Rows,
    Scheduler, parse_config,
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

/// How much cpu and memory each count in a node's score (a resource listed twice counts
/// with both weights, as the weighted mean over the list would).
#[derive(Clone, Copy, Default)]
struct Weights {
    cpu: u64,
    memory: u64,
}

/// The largest weight a resource may have, as Kubernetes' `NodeResourcesFitArgs` allow.
const MAX_WEIGHT: u64 = 100;

/// NodeResourcesFit: what each node can allocate and what it has allocated, by node index,
/// and how to score.
pub struct NodeResources {
    allocatable: Rows<Resources>,
    usage: Rows<Resources>,
    /// What the filter and the scores read of each node, derived from its allocatable and
    /// usage rows whenever either is synced: one small row per node keeps the per-node work
    /// of a call to one lookup.
    fits: Rows<Fit>,
    strategy: Strategy,
    weights: Weights,
}

/// A node's cpu, memory and pod room, as [`Fit::of`] derives it.
#[derive(Clone, Copy)]
struct Fit {
    cpu: Room,
    memory: Room,
    free_pods: u64,
}

/// How much of a resource a node has, and how much of that is not allocated.
#[derive(Clone, Copy)]
struct Room {
    capacity: u64,
    free: u64,
}

impl Room {
    fn of(capacity: u64, used: u64) -> Room {
        Room {
            capacity,
            free: free(capacity, used),
        }
    }

    /// What is allocated once `request` is added: usage beyond capacity counts as the
    /// capacity, which no score can tell apart from it.
    fn requested(self, request: u64) -> u64 {
        (self.capacity - self.free).saturating_add(request)
    }
}

impl Fit {
    fn of(allocatable: &Resources, used: &Resources) -> Fit {
        Fit {
            cpu: Room::of(allocatable.milli_cpu, used.milli_cpu),
            memory: Room::of(allocatable.memory, used.memory),
            free_pods: free(allocatable.pods, used.pods),
        }
    }
}

impl NodeResources {
    /// The plugin for a `NodeResourcesFitArgs`-shaped configuration (`null`: the defaults).
    pub fn from_config(config: &str) -> Result<NodeResources, PluginError> {
        let config: Option<Config> = parse_config(config)?;
        let strategy = config.and_then(|c| c.scoring_strategy);
        let kind = strategy.as_ref().map(|s| s.kind).unwrap_or_default();
        let weights = match strategy.and_then(|s| s.resources) {
            None => Weights { cpu: 1, memory: 1 },
            Some(resources) => {
                let mut weights = Weights::default();
                for r in resources {
                    if r.weight > MAX_WEIGHT {
                        return Err(PluginError::new(format!(
                            "bad configuration: scoringStrategy.resources: the weight of {:?} is {}, over {MAX_WEIGHT}",
                            r.name, r.weight
                        )));
                    }
                    match r.name.as_str() {
                        "cpu" => weights.cpu += r.weight,
                        "memory" => weights.memory += r.weight,
                        other => {
                            return Err(PluginError::new(format!(
                                "bad configuration: scoringStrategy.resources: {other:?} is not cpu or memory"
                            )));
                        }
                    }
                }
                weights
            }
        };
        if weights.cpu + weights.memory == 0 {
            return Err(PluginError::new(
                "bad configuration: scoringStrategy.resources weigh nothing",
            ));
        }
        Ok(NodeResources {
            allocatable: Rows::new("node"),
            usage: Rows::new("node usage"),
            fits: Rows::new("node"),
            strategy: kind,
            weights,
        })
    }

    /// The scoring strategy in force.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Adds or replaces the nodes `upserts` and forgets the nodes `removed`. Their usage is
    /// synced apart, by [`Scheduler::sync_usage`].
    pub fn sync(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        let changed: Vec<u32> = upserts.iter().map(|node| node.index).collect();
        self.allocatable.sync(
            upserts,
            removed.clone(),
            |node| node.index,
            |node| node.allocatable,
        );
        self.refit(changed.into_iter().chain(removed));
    }

    /// Replaces the usage rows `upserts` and forgets those of `removed` (a node with no
    /// usage row has nothing allocated).
    pub fn sync_usage(&mut self, upserts: Vec<NodeUsage>, removed: Vec<u32>) {
        let changed: Vec<u32> = upserts.iter().map(|usage| usage.node).collect();
        self.usage.sync(
            upserts,
            removed.clone(),
            |usage| usage.node,
            |usage| usage.used,
        );
        self.refit(changed.into_iter().chain(removed));
    }

    /// Derives the fit rows of `indexes` again from their allocatable and usage rows; a
    /// node no longer synced loses its row.
    fn refit(&mut self, indexes: impl Iterator<Item = u32>) {
        let (mut fits, mut gone) = (Vec::new(), Vec::new());
        for index in indexes {
            match self.allocatable.find(index) {
                Some(allocatable) => fits.push((index, Fit::of(allocatable, self.used(index)))),
                None => gone.push(index),
            }
        }
        self.fits.sync(fits, gone, |fit| fit.0, |fit| fit.1);
    }

    /// NodeResourcesFit over every candidate. Each node's shortfalls are a bitmask (cpu,
    /// memory, pods, then each extended resource); reason strings are made once per
    /// distinct mask, not per node.
    pub fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        let request = &pod.requests;
        if request.extended.len() > MAX_EXTENDED {
            return Err(PluginError::new(format!(
                "at most {MAX_EXTENDED} extended resources per pod"
            )));
        }
        let mut codes = vec![0u16; nodes.index.len()];
        let mut masks: Vec<u64> = Vec::new();
        for (code, &index) in codes.iter_mut().zip(&nodes.index) {
            let fit = self.fits.get(index)?;
            // Branch-free: a request of 0 never exceeds what is free, so no `> 0` test.
            let mut mask = u64::from(
                bit(fit.cpu.free < request.milli_cpu, CPU)
                    | bit(fit.memory.free < request.memory, MEMORY)
                    | bit(fit.free_pods < 1, PODS),
            );
            if !request.extended.is_empty() {
                mask |= self.extended_shortfalls(index, request)?;
            }
            if mask != 0 {
                *code = code_of(&mut masks, mask)?;
            }
        }
        let reasons = masks.iter().map(|&mask| reasons(mask, request)).collect();
        Ok(FilterResult { codes, reasons })
    }

    /// The strategy's score for every candidate.
    pub fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        // One loop per strategy, so the per-node work has no strategy to branch on.
        match self.strategy {
            Strategy::LeastAllocated => self.score_by(pod, nodes, least_allocated),
            Strategy::MostAllocated => self.score_by(pod, nodes, most_allocated),
        }
    }

    /// The weighted mean of `share(capacity, requested)` over cpu and memory, per candidate.
    fn score_by(
        &self,
        pod: &Pod,
        nodes: &Candidates,
        share: impl Fn(u64, u64) -> u64,
    ) -> Result<Vec<u32>, PluginError> {
        let request = &pod.requests;
        let Weights { cpu, memory } = self.weights;
        let total = cpu + memory;
        let mut scores = vec![0u32; nodes.index.len()];
        for (score, &index) in scores.iter_mut().zip(&nodes.index) {
            let fit = self.fits.get(index)?;
            let sum = share(fit.cpu.capacity, fit.cpu.requested(request.milli_cpu)) * cpu
                + share(fit.memory.capacity, fit.memory.requested(request.memory)) * memory;
            // A share is at most 100, so the mean is too.
            *score = (sum / total) as u32;
        }
        Ok(scores)
    }

    /// What node `index` has allocated: its usage row, or nothing when it has none.
    fn used(&self, index: u32) -> &Resources {
        self.usage.find(index).unwrap_or(&NOTHING)
    }

    /// The shortfall bits of the extended resources `request` names that node `index`
    /// lacks once its usage is counted. Out of line, like [`code_of`]: most pods request
    /// none.
    #[inline(never)]
    fn extended_shortfalls(&self, index: u32, request: &Resources) -> Result<u64, PluginError> {
        let node = self.allocatable.get(index)?;
        let used = self.used(index);
        let mut mask = 0;
        for (j, (name, amount)) in request.extended.iter().enumerate() {
            if free(extended(node, name), extended(used, name)) < *amount {
                mask |= 1 << (FIRST_EXTENDED + j);
            }
        }
        Ok(mask)
    }
}

/// The usage of a node with no usage row.
static NOTHING: Resources = Resources {
    milli_cpu: 0,
    memory: 0,
    pods: 0,
    extended: Vec::new(),
};

/// The amount of extended resource `name` in `resources`, 0 when it is not listed.
fn extended(resources: &Resources, name: &str) -> u64 {
    resources
        .extended
        .iter()
        .find(|(n, _)| n == name)
        .map_or(0, |(_, amount)| *amount)
}

/// The code of shortfall `mask`: one more than its position among the distinct `masks`
/// seen so far, adding it when it is new. Out of line, so the filter's loop stays small
/// enough to keep its values in registers.
#[inline(never)]
fn code_of(masks: &mut Vec<u64>, mask: u64) -> Result<u16, PluginError> {
    let position = match masks.iter().position(|&m| m == mask) {
        Some(position) => position,
        None => {
            masks.push(mask);
            masks.len() - 1
        }
    };
    u16::try_from(position + 1).map_err(|_| PluginError::new("too many distinct reasons"))
}

/// `bit` when `set`, else 0, without a branch.
fn bit(set: bool, bit: u16) -> u16 {
    u16::from(set) * bit
}

const CPU: u16 = 1;
const MEMORY: u16 = 1 << 1;
const PODS: u16 = 1 << 2;
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
        if mask & u64::from(bit) != 0 {
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

/// `part * 100 / whole` for `part <= whole`, in u64 arithmetic: exact unless `part * 100`
/// overflows, which needs capacities beyond 10^17 (then it divides first and loses under
/// one point). The overflow test is a comparison, not `checked_mul`: WebAssembly has no
/// overflow flag, so a checked 64-bit multiply (like 128-bit arithmetic) is a library call.
fn share(part: u64, whole: u64) -> u64 {
    if part <= u64::MAX / MAX_SCORE {
        part * MAX_SCORE / whole
    } else {
        part / (whole / MAX_SCORE).max(1)
    }
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

    fn sync_usage(&mut self, upserts: Vec<NodeUsage>, removed: Vec<u32>) {
        NodeResources::sync_usage(self, upserts, removed);
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        NodeResources::filter(self, pod, nodes)
    }

    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        NodeResources::score(self, pod, nodes)
    }
}

keel_sdk::export_scheduler!(NodeResources);

#[cfg(test)]
mod tests {
    use super::*;
    use keel_sdk::scheduler::testing::{self, candidates, first_reasons, resources, usage};

    const GI: u64 = 1 << 30;

    fn node(index: u32, allocatable: Resources) -> Node {
        Node {
            allocatable,
            ..testing::node(index, &format!("n{index}"))
        }
    }

    fn pod(requests: Resources) -> Pod {
        Pod {
            requests,
            ..testing::pod("p")
        }
    }

    fn plugin(config: &str, nodes: Vec<Node>) -> NodeResources {
        testing::synced(config, nodes).expect("config")
    }

    /// Four nodes: room for the pod, too little cpu, too little memory, no pod slot left
    /// once node 3's one pod is counted.
    fn four_nodes() -> NodeResources {
        let mut plugin = plugin(
            "null",
            vec![
                node(0, resources(4000, 8 * GI, 110)),
                node(1, resources(1000, 8 * GI, 110)),
                node(2, resources(4000, GI, 110)),
                node(3, resources(4000, 8 * GI, 1)),
            ],
        );
        plugin.sync_usage(vec![usage(3, 0, 0, 1)], Vec::new());
        plugin
    }

    // NodeResourcesFit: each resource that falls short is a reason, worded as Kubernetes'.
    #[test]
    fn filter_reports_each_shortfall() {
        let plugin = four_nodes();
        let result = plugin
            .filter(&pod(resources(2000, 2 * GI, 1)), &candidates(&[0, 1, 2, 3]))
            .expect("filter");
        assert_eq!(
            first_reasons(&result),
            vec![
                None,
                Some("Insufficient cpu"),
                Some("Insufficient memory"),
                Some("Too many pods")
            ]
        );
    }

    // What a node has allocated counts against it; nodes short of the same resources share
    // one reason list.
    #[test]
    fn usage_counts_against_allocatable() {
        let mut plugin = plugin(
            "null",
            vec![
                node(0, resources(4000, 8 * GI, 110)),
                node(1, resources(4000, 8 * GI, 110)),
                node(2, resources(4000, 8 * GI, 110)),
            ],
        );
        plugin.sync_usage(
            vec![
                usage(0, 3000, 7 * GI, 2),
                usage(1, 3000, 7 * GI, 2),
                usage(2, 2000, 6 * GI, 2),
            ],
            Vec::new(),
        );
        let result = plugin
            .filter(&pod(resources(1500, 2 * GI, 1)), &candidates(&[0, 1, 2]))
            .expect("filter");
        assert_eq!(result.codes, vec![1, 1, 0]);
        assert_eq!(
            result.reasons,
            vec![vec![
                "Insufficient cpu".to_string(),
                "Insufficient memory".to_string()
            ]]
        );
    }

    // Extended resources: allocatable and used by name; a node without the resource has
    // none, and each short resource is named.
    #[test]
    fn extended_resources_are_read_by_name() {
        let gpu = "example.com/gpu";
        let fpga = "example.com/fpga";
        let with_gpus = |index| {
            node(
                index,
                Resources {
                    extended: vec![(gpu.to_string(), 4), (fpga.to_string(), 1)],
                    ..resources(4000, 8 * GI, 110)
                },
            )
        };
        let mut plugin = plugin(
            "null",
            vec![
                with_gpus(0),
                with_gpus(1),
                node(2, resources(4000, 8 * GI, 110)),
            ],
        );
        plugin.sync_usage(
            vec![NodeUsage {
                node: 1,
                used: Resources {
                    extended: vec![(fpga.to_string(), 1), (gpu.to_string(), 3)],
                    ..resources(0, 0, 1)
                },
            }],
            Vec::new(),
        );
        let request = pod(Resources {
            extended: vec![(gpu.to_string(), 2), (fpga.to_string(), 0)],
            ..resources(0, 0, 1)
        });
        let result = plugin
            .filter(&request, &candidates(&[0, 1, 2]))
            .expect("filter");
        assert_eq!(
            first_reasons(&result),
            vec![
                None,
                Some("Insufficient example.com/gpu"),
                Some("Insufficient example.com/gpu")
            ]
        );
    }

    // A node with no usage row (never synced, or removed since) has nothing allocated.
    #[test]
    fn node_without_usage_row_counts_as_empty() {
        let mut plugin = four_nodes();
        let request = pod(resources(1000, GI, 1));
        let result = plugin.filter(&request, &candidates(&[3])).expect("filter");
        assert_eq!(first_reasons(&result), vec![Some("Too many pods")]);
        plugin.sync_usage(Vec::new(), vec![3]);
        let result = plugin.filter(&request, &candidates(&[3])).expect("filter");
        assert_eq!(first_reasons(&result), vec![None]);
        let scores = plugin.score(&request, &candidates(&[0, 3])).expect("score");
        assert_eq!(scores[0], scores[1], "both nodes are empty and alike");
    }

    // LeastAllocated: node 0 keeps (4000-2000)/4000 cpu and (8-2)/8 memory free: (50 + 75)
    // / 2; node 1's cpu is over capacity (0) and its memory 75.
    #[test]
    fn least_allocated_score() {
        let plugin = four_nodes();
        let scores = plugin
            .score(&pod(resources(2000, 2 * GI, 1)), &candidates(&[0, 1]))
            .expect("score");
        assert_eq!(scores, vec![62, 37]);
    }

    // MostAllocated with weights: usage plus the request, as a share of allocatable.
    #[test]
    fn most_allocated_weighted_score() {
        let config = r#"{"scoringStrategy":{"type":"MostAllocated","resources":[{"name":"cpu","weight":3},{"name":"memory"}]}}"#;
        let mut plugin = plugin(config, vec![node(0, resources(4000, 8 * GI, 110))]);
        assert_eq!(plugin.strategy(), Strategy::MostAllocated);
        plugin.sync_usage(vec![usage(0, 1000, 2 * GI, 1)], Vec::new());
        let scores = plugin
            .score(&pod(resources(1000, 2 * GI, 1)), &candidates(&[0]))
            .expect("score");
        // cpu 2000/4000 = 50 (weight 3), memory 4/8 = 50: 50.
        assert_eq!(scores, vec![50]);
        plugin.sync_usage(vec![usage(0, 3000, 0, 1)], Vec::new());
        let scores = plugin
            .score(&pod(resources(1000, 2 * GI, 1)), &candidates(&[0]))
            .expect("score");
        // The row is replaced: cpu 4000/4000 = 100 (weight 3), memory 2/8 = 25: 325 / 4.
        assert_eq!(scores, vec![81]);
    }

    // A node whose pods request more than it can allocate (allocatable shrank under them)
    // has nothing free: it fits no request, LeastAllocated gives it 0 and MostAllocated 100.
    #[test]
    fn usage_beyond_allocatable_counts_as_full() {
        let over = |config| {
            let mut plugin = plugin(config, vec![node(0, resources(1000, GI, 110))]);
            plugin.sync_usage(vec![usage(0, 3000, 2 * GI, 1)], Vec::new());
            plugin
        };
        let request = pod(resources(0, 0, 1));
        let least = over("null");
        let result = least.filter(&pod(resources(1, 1, 1)), &candidates(&[0]));
        assert_eq!(
            result.expect("filter").reasons,
            vec![vec![
                "Insufficient cpu".to_string(),
                "Insufficient memory".to_string()
            ]]
        );
        assert_eq!(
            least
                .filter(&request, &candidates(&[0]))
                .expect("filter")
                .codes,
            vec![0],
            "a pod that requests nothing still fits"
        );
        assert_eq!(
            least.score(&request, &candidates(&[0])).expect("score"),
            vec![0]
        );
        let most = over(r#"{"scoringStrategy":{"type":"MostAllocated"}}"#);
        assert_eq!(
            most.score(&request, &candidates(&[0])).expect("score"),
            vec![100]
        );
    }

    // Resources listed twice count with both weights; a weight over 100 is refused below.
    #[test]
    fn repeated_resources_add_their_weights() {
        let config = r#"{"scoringStrategy":{"type":"MostAllocated","resources":[{"name":"cpu","weight":1},{"name":"memory","weight":1},{"name":"cpu","weight":2}]}}"#;
        let mut plugin = plugin(config, vec![node(0, resources(4000, 8 * GI, 110))]);
        plugin.sync_usage(vec![usage(0, 3000, 0, 1)], Vec::new());
        let scores = plugin
            .score(&pod(resources(1000, 2 * GI, 1)), &candidates(&[0]))
            .expect("score");
        // cpu 100 (weight 3), memory 25 (weight 1): 325 / 4.
        assert_eq!(scores, vec![81]);
    }

    #[test]
    fn bad_configurations_refused() {
        for (config, expected) in [
            (
                r#"{"scoringStrategy":{"resources":[{"name":"example.com/gpu"}]}}"#,
                "not cpu or memory",
            ),
            (
                r#"{"scoringStrategy":{"resources":[{"name":"cpu","weight":0}]}}"#,
                "weigh nothing",
            ),
            (
                r#"{"scoringStrategy":{"resources":[{"name":"cpu","weight":101}]}}"#,
                "over 100",
            ),
            (r#"{"scoring":{}}"#, "unknown field"),
            ("{", "bad configuration"),
        ] {
            let error = NodeResources::from_config(config)
                .err()
                .unwrap_or_else(|| panic!("{config} was accepted"));
            assert!(
                error.message.contains(expected),
                "{config}: {}",
                error.message
            );
        }
    }

    #[test]
    fn unsynced_nodes_are_errors() {
        let mut plugin = four_nodes();
        plugin.sync_nodes(Vec::new(), vec![1]);
        let request = pod(resources(100, 0, 1));
        let error = plugin
            .filter(&request, &candidates(&[0, 1]))
            .expect_err("removed");
        assert!(error.message.contains("node index 1"), "{}", error.message);
        assert!(plugin.score(&request, &candidates(&[1])).is_err());
    }

    #[test]
    fn declares_filter_and_score_with_usage() {
        let capabilities = plugin("null", Vec::new()).capabilities();
        assert!(capabilities.filters && capabilities.scores);
        assert!(capabilities.reads_usage && !capabilities.reads_pods);
    }
}
