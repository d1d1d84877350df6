//! Scheduler plugin: Kubernetes' `NodeResourcesBalancedAllocation` score.
//!
//! Favours nodes whose cpu and memory would be used in equal shares once the pod is placed.
//! This follows kube-scheduler's
//! `pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go`
//! (`balancedResourceScorer`) and `resource_allocation.go` (with `useRequested`):
//! - for each configured resource, `fraction = (used + requested) / allocatable`, capped at 1;
//!   a resource the node has none of is skipped;
//! - `std` is `|f1 - f2| / 2` for two fractions, the population standard deviation for more,
//!   and 0 for fewer;
//! - the score is `int64((1 - std) * MaxNodeScore)`, truncated;
//! - a pod requesting none of the resources (best effort) is skipped (kubernetes#129138):
//!   every node scores 0, which ranks nothing.
//!
//! The score is not normalised over the candidates (the plugin has no `NormalizeScore`). The
//! configuration is Kubernetes' `NodeResourcesBalancedAllocationArgs`
//! (`{"resources": [{"name": "cpu", "weight": 1}, ...]}`, cpu and memory by default); as
//! Kubernetes validates it, names are unique and every weight is 1 (an omitted or 0 weight
//! defaults to 1). Only `cpu` and `memory` are supported here.
//!
//! The plugin keeps two resident tables by node index: each node's allocatable cpu and
//! memory (`sync_nodes`) and the cpu and memory the pods bound or assumed on it request
//! (`sync_usage`; a node with no usage row has nothing allocated). A call carries only the
//! candidates' indexes.

use keel_sdk::scheduler::{
    Candidates, Capabilities, Node, NodeUsage, PluginError, Pod, Rows, Scheduler, parse_config,
};
use serde::Deserialize;

/// The largest score a node can get (`framework.MaxNodeScore`).
pub const MAX_SCORE: f64 = 100.0;

/// The plugin's configuration, as Kubernetes' `NodeResourcesBalancedAllocationArgs`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    resources: Option<Vec<ResourceSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceSpec {
    name: String,
    #[serde(default)]
    weight: i64,
}

/// A resource the score balances.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Balanced {
    /// CPU, in millicores.
    Cpu,
    /// Memory, in bytes.
    Memory,
}

/// A node's allocatable cpu and memory.
#[derive(Clone, Copy)]
struct Allocatable {
    milli_cpu: u64,
    memory: u64,
}

/// The cpu and memory a node has allocated (what its pods request).
#[derive(Clone, Copy, Default)]
struct Used {
    milli_cpu: u64,
    memory: u64,
}

/// NodeResourcesBalancedAllocation: allocatable and allocated cpu and memory by node index,
/// and the resources to balance.
pub struct BalancedAllocation {
    allocatable: Rows<Allocatable>,
    usage: Rows<Used>,
    resources: Vec<Balanced>,
}

impl BalancedAllocation {
    /// The plugin for a `NodeResourcesBalancedAllocationArgs`-shaped configuration (`null`:
    /// cpu and memory).
    pub fn from_config(config: &str) -> Result<BalancedAllocation, PluginError> {
        let config: Option<Config> = parse_config(config)?;
        // SetDefaults_NodeResourcesBalancedAllocationArgs: no resources means cpu and memory.
        let resources = match config.and_then(|c| c.resources) {
            Some(specs) if !specs.is_empty() => resources(specs)?,
            _ => vec![Balanced::Cpu, Balanced::Memory],
        };
        Ok(BalancedAllocation {
            allocatable: Rows::new("node"),
            usage: Rows::new("node usage"),
            resources,
        })
    }

    /// The resources balanced, in configuration order.
    pub fn resources(&self) -> &[Balanced] {
        &self.resources
    }
}

/// What `pod` requests of `resource`.
fn request(resource: Balanced, pod: &Pod) -> u64 {
    match resource {
        Balanced::Cpu => pod.requests.milli_cpu,
        Balanced::Memory => pod.requests.memory,
    }
}

/// The configured resources, validated as `ValidateNodeResourcesBalancedAllocationArgs`.
fn resources(specs: Vec<ResourceSpec>) -> Result<Vec<Balanced>, PluginError> {
    let mut resources = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let resource = match spec.name.as_str() {
            "cpu" => Balanced::Cpu,
            "memory" => Balanced::Memory,
            other => {
                return Err(PluginError::new(format!(
                    "bad configuration: resources[{i}].name: {other:?} is not supported (cpu or memory)"
                )));
            }
        };
        if resources.contains(&resource) {
            return Err(PluginError::new(format!(
                "bad configuration: resources[{i}].name: duplicate value {:?}",
                spec.name
            )));
        }
        // SetDefaults_NodeResourcesBalancedAllocationArgs turns an unset (0) weight into 1.
        if spec.weight != 0 && spec.weight != 1 {
            return Err(PluginError::new(format!(
                "bad configuration: resources[{i}].weight: invalid value {}: must be 1",
                spec.weight
            )));
        }
        resources.push(resource);
    }
    Ok(resources)
}

/// Kubernetes' `balancedResourceScorer` over `(allocatable, requested)` pairs: `(1 - std) *
/// 100`, truncated, where `std` is the standard deviation of the capped fractions of the
/// resources the node has.
///
/// As in kubernetes/kubernetes master,
/// `pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go`: a resource with
/// `allocable[i] == 0` is skipped; `fraction > 1` becomes 1; with two fractions
/// `std = math.Abs((resourceToFractions[0] - resourceToFractions[1]) / 2)`, with more
/// `math.Sqrt(Σ(fraction - mean)² / len)`, otherwise 0; the score is
/// `int64((1 - std) * float64(fwk.MaxNodeScore))`.
pub fn balanced_score(amounts: &[(u64, u64)]) -> u32 {
    // No allocation per node: fractions live on the stack.
    let mut fractions = [0.0f64; MAX_RESOURCES];
    let mut count = 0;
    for &(allocatable, requested) in amounts.iter().filter(|(a, _)| *a != 0) {
        if let Some(slot) = fractions.get_mut(count) {
            *slot = (requested as f64 / allocatable as f64).min(1.0);
            count += 1;
        }
    }
    let std = match &fractions[..count] {
        [a, b] => ((a - b) / 2.0).abs(),
        [] | [_] => 0.0,
        many => {
            let mean = many.iter().sum::<f64>() / many.len() as f64;
            let sum: f64 = many.iter().map(|f| (f - mean) * (f - mean)).sum();
            (sum / many.len() as f64).sqrt()
        }
    };
    ((1.0 - std) * MAX_SCORE) as u32
}

/// The most resources scored (the configuration allows cpu and memory; more are ignored).
const MAX_RESOURCES: usize = 8;

impl Scheduler for BalancedAllocation {
    fn new(config: &str) -> Result<Self, PluginError> {
        BalancedAllocation::from_config(config)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::SCORE.with_usage()
    }

    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.allocatable.sync(
            upserts,
            removed,
            |node| node.index,
            |node| Allocatable {
                milli_cpu: node.allocatable.milli_cpu,
                memory: node.allocatable.memory,
            },
        );
    }

    fn sync_usage(&mut self, upserts: Vec<NodeUsage>, removed: Vec<u32>) {
        self.usage.sync(
            upserts,
            removed,
            |usage| usage.node,
            |usage| Used {
                milli_cpu: usage.used.milli_cpu,
                memory: usage.used.memory,
            },
        );
    }

    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        let best_effort = self.resources.iter().all(|&r| request(r, pod) == 0);
        let mut scores = Vec::with_capacity(nodes.index.len());
        let mut amounts = Vec::with_capacity(self.resources.len());
        for &index in &nodes.index {
            let node = *self.allocatable.get(index)?;
            if best_effort {
                scores.push(0);
                continue;
            }
            let used = self.usage.find(index).copied().unwrap_or_default();
            amounts.clear();
            for &resource in &self.resources {
                let (allocatable, used) = match resource {
                    Balanced::Cpu => (node.milli_cpu, used.milli_cpu),
                    Balanced::Memory => (node.memory, used.memory),
                };
                amounts.push((allocatable, used.saturating_add(request(resource, pod))));
            }
            scores.push(balanced_score(&amounts));
        }
        Ok(scores)
    }
}

keel_sdk::export_scheduler!(BalancedAllocation);

#[cfg(test)]
mod tests {
    use super::*;
    use keel_sdk::scheduler::testing::{self, candidates, resources, usage};

    const GI: u64 = 1 << 30;

    fn node(index: u32, milli_cpu: u64, memory: u64) -> Node {
        Node {
            allocatable: resources(milli_cpu, memory, 110),
            ..testing::node(index, &format!("n{index}"))
        }
    }

    fn pod(milli_cpu: u64, memory: u64) -> Pod {
        Pod {
            requests: resources(milli_cpu, memory, 1),
            ..testing::pod("p")
        }
    }

    fn plugin(config: &str, nodes: Vec<Node>) -> BalancedAllocation {
        testing::synced(config, nodes).expect("config")
    }

    // kubernetes.io/docs/reference/scheduling/config/#scheduling-plugins
    // (NodeResourcesBalancedAllocation: "Favors nodes that would obtain a more balanced
    // resource usage if the Pod is scheduled there"): cpu 3000m/4000m = 0.75 and memory
    // 5Gi/10Gi = 0.5 give std 0.125 and score 87 (truncated); equal fractions give 100.
    #[test]
    fn score_is_one_minus_half_the_difference() {
        let mut plugin = plugin("null", vec![node(0, 4000, 10 * GI), node(1, 4000, 10 * GI)]);
        plugin.sync_usage(
            vec![usage(0, 2000, 3 * GI, 1), usage(1, 1000, 3 * GI, 1)],
            Vec::new(),
        );
        let scores = plugin
            .score(&pod(1000, 2 * GI), &candidates(&[0, 1]))
            .expect("score");
        // Node 1: cpu 2000/4000 = 0.5, memory 5Gi/10Gi = 0.5.
        assert_eq!(scores, vec![87, 100]);
    }

    // balancedResourceScorer caps each fraction at 1: cpu 8000m/4000m counts as 1.0; with
    // memory 0 the std is 0.5 and the score 50.
    #[test]
    fn fractions_are_capped_at_one() {
        let mut plugin = plugin("null", vec![node(0, 4000, 10 * GI)]);
        plugin.sync_usage(vec![usage(0, 0, 0, 0)], Vec::new());
        let scores = plugin
            .score(&pod(8000, 0), &candidates(&[0]))
            .expect("score");
        assert_eq!(scores, vec![50]);
    }

    // balancedResourceScorer skips a resource the node has none of: one fraction left, std 0.
    #[test]
    fn zero_allocatable_resource_is_skipped() {
        let mut plugin = plugin("null", vec![node(0, 0, 10 * GI), node(1, 0, 0)]);
        plugin.sync_usage(vec![usage(0, 0, 8 * GI, 1), usage(1, 0, 0, 0)], Vec::new());
        let scores = plugin
            .score(&pod(500, GI), &candidates(&[0, 1]))
            .expect("score");
        assert_eq!(scores, vec![100, 100]);
    }

    // balanced_allocation.go PreScore: a best-effort pod (no cpu or memory request) is
    // skipped (kubernetes#129138): no node is favoured.
    #[test]
    fn best_effort_pod_scores_nothing() {
        let mut plugin = plugin("null", vec![node(0, 4000, 10 * GI), node(1, 4000, 10 * GI)]);
        plugin.sync_usage(
            vec![usage(0, 4000, 0, 1), usage(1, 2000, 5 * GI, 1)],
            Vec::new(),
        );
        let scores = plugin
            .score(&pod(0, 0), &candidates(&[0, 1]))
            .expect("score");
        assert_eq!(scores, vec![0, 0]);
    }

    // NodeResourcesBalancedAllocationArgs with only cpu: one fraction, std 0, every node 100;
    // a pod requesting only memory is best effort for that configuration.
    #[test]
    fn configured_single_resource() {
        let config = r#"{"resources":[{"name":"cpu","weight":1}]}"#;
        let mut plugin = plugin(config, vec![node(0, 4000, 10 * GI)]);
        assert_eq!(plugin.resources(), &[Balanced::Cpu]);
        plugin.sync_usage(vec![usage(0, 3000, 0, 1)], Vec::new());
        let nodes = candidates(&[0]);
        assert_eq!(
            plugin.score(&pod(500, GI), &nodes).expect("score"),
            vec![100]
        );
        assert_eq!(plugin.score(&pod(0, GI), &nodes).expect("score"), vec![0]);
    }

    // The default configuration and the documented one are the same; an omitted weight and
    // an empty list take Kubernetes' defaults.
    #[test]
    fn configurations_accepted() {
        for config in [
            "null",
            "{}",
            r#"{"resources":[]}"#,
            r#"{"resources":[{"name":"cpu","weight":1},{"name":"memory","weight":1}]}"#,
            r#"{"resources":[{"name":"memory"},{"name":"cpu","weight":0}]}"#,
        ] {
            let plugin = BalancedAllocation::from_config(config).expect(config);
            assert_eq!(plugin.resources().len(), 2, "{config}");
        }
    }

    // ValidateNodeResourcesBalancedAllocationArgs: duplicate names and weights other than 1
    // are refused; resources other than cpu and memory are not supported here.
    #[test]
    fn bad_configurations_refused() {
        for (config, expected) in [
            (
                r#"{"resources":[{"name":"example.com/gpu","weight":1}]}"#,
                "resources[0].name",
            ),
            (
                r#"{"resources":[{"name":"cpu"},{"name":"cpu"}]}"#,
                "duplicate",
            ),
            (r#"{"resources":[{"name":"cpu","weight":2}]}"#, "must be 1"),
            (r#"{"resources":[{"weight":1}]}"#, "bad configuration"),
            (r#"{"resource":[]}"#, "unknown field"),
            ("{", "bad configuration"),
        ] {
            let error = <BalancedAllocation as Scheduler>::new(config)
                .err()
                .unwrap_or_else(|| panic!("{config} was accepted"));
            assert!(
                error.message.contains(expected),
                "{config}: {}",
                error.message
            );
        }
    }

    // More than two fractions use the population standard deviation.
    #[test]
    fn standard_deviation_of_many() {
        assert_eq!(balanced_score(&[(10, 0), (10, 10), (10, 5)]), 59);
        assert_eq!(balanced_score(&[(10, 5), (10, 5), (10, 5)]), 100);
        assert_eq!(balanced_score(&[]), 100);
    }

    #[test]
    fn unsynced_nodes_are_errors() {
        let mut plugin = plugin("null", vec![node(0, 4000, GI), node(1, 4000, GI)]);
        plugin.sync_nodes(Vec::new(), vec![1]);
        let error = plugin
            .score(&pod(100, 0), &candidates(&[0, 1]))
            .expect_err("removed");
        assert!(error.message.contains("node index 1"), "{}", error.message);
    }

    // A node with no usage row (never synced, or removed since) has nothing allocated: it
    // scores as a row of zeros would.
    #[test]
    fn node_without_usage_row_counts_as_empty() {
        let mut plugin = plugin("null", vec![node(0, 4000, 10 * GI), node(1, 4000, 10 * GI)]);
        plugin.sync_usage(vec![usage(0, 2000, 3 * GI, 1)], Vec::new());
        let request = pod(1000, 2 * GI);
        let nodes = candidates(&[0, 1]);
        // Node 1: cpu 1000/4000 = 0.25, memory 2Gi/10Gi = 0.2: std 0.025, score 97.
        assert_eq!(plugin.score(&request, &nodes).expect("score"), vec![87, 97]);
        plugin.sync_usage(Vec::new(), vec![0]);
        assert_eq!(plugin.score(&request, &nodes).expect("score"), vec![97, 97]);
    }

    #[test]
    fn declares_score_with_usage() {
        let capabilities = plugin("null", Vec::new()).capabilities();
        assert!(!capabilities.filters && capabilities.scores);
        assert!(capabilities.reads_usage && !capabilities.reads_pods);
    }
}
