//! Scheduler plugin: Kubernetes' `PodTopologySpread`, its filter and its score, over the
//! pods already placed.
//!
//! It owns the pod's `spec.topologySpreadConstraints` (`maxSkew`, `topologyKey`,
//! `whenUnsatisfiable`, `labelSelector`, `minDomains`, `matchLabelKeys`,
//! `nodeAffinityPolicy`, `nodeTaintsPolicy`), following kube-scheduler's plugin:
//! - Counting: for each constraint, the placed pods in the incoming pod's namespace that
//!   its selector matches (an empty selector counts none, as in Kubernetes), summed per
//!   value of `topologyKey` over the nodes that have every constraint's key and pass the
//!   inclusion policies: `nodeAffinityPolicy: Honor` (the default) keeps nodes matching
//!   the pod's `nodeSelector` and required node affinity, `nodeTaintsPolicy: Honor` (not
//!   the default) keeps nodes whose NoSchedule/NoExecute taints the pod tolerates.
//! - Filter, `DoNotSchedule` constraints, the first failing one per node: a node without
//!   the key fails with "node(s) didn't match pod topology spread constraints (missing
//!   required label)"; one where `count[domain] + selfMatch - globalMin > maxSkew` fails
//!   with "node(s) didn't match pod topology spread constraints". `globalMin` is the
//!   least count over the eligible domains, or 0 when there are fewer than `minDomains`.
//! - Score, `ScheduleAnyway` constraints: per candidate, the sum over constraints of
//!   `count * ln(domains + 2) + maxSkew - 1` (domains among the candidates; for
//!   `kubernetes.io/hostname` the pods on the node itself), rounded; then Kubernetes'
//!   `NormalizeScore`, `100 * (max + min - s) / max`, so the least loaded gets 100.
//!   Candidates without every key score 0.
//!
//! Nodes and placed pods are resident (by index); counts are built per call in hash maps
//! keyed by topology value, O(nodes + pods). A pod without constraints is answered without
//! per-node work.
//!
//! Left out: Kubernetes' system default constraints (`defaultConstraints`, applied to pods
//! that Services, ReplicaSets or StatefulSets select) are not applied: a pod without
//! constraints is not spread. Counting by owner reference, terminating pods (the host
//! places none), preemption's add/remove-pod bookkeeping and label syntax checks are left
//! out too.

mod constraint;
mod filter;
mod inclusion;
mod score;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use keel_sdk::scheduler::{
    Candidates, Capabilities, FilterResult, Node, PlacedPod, PluginError, Pod, PodFields, Rows,
    Scheduler, Taint,
};
use serde::Deserialize;

use constraint::Constraint;
use inclusion::{NodeFit, RequiredNodeAffinity};
use keel_sdk::labels::Labels;

/// The largest score a node can get.
pub const MAX_SCORE: u32 = 100;

/// A node as this plugin keeps it.
#[derive(Debug)]
pub(crate) struct NodeEntry {
    pub(crate) name: String,
    pub(crate) labels: HashMap<String, String>,
    pub(crate) taints: Vec<Taint>,
}

impl From<Node> for NodeEntry {
    fn from(node: Node) -> NodeEntry {
        NodeEntry {
            name: node.name,
            labels: node.labels.into_iter().collect(),
            taints: node.taints,
        }
    }
}

/// A placed pod as this plugin keeps it.
#[derive(Debug)]
pub(crate) struct PodEntry {
    pub(crate) namespace: String,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) node: u32,
}

impl From<PlacedPod> for PodEntry {
    fn from(pod: PlacedPod) -> PodEntry {
        PodEntry {
            namespace: pod.namespace,
            labels: pod.labels,
            node: pod.node,
        }
    }
}

/// PodTopologySpread: the node and placed-pod tables.
pub struct PodTopologySpread {
    nodes: Rows<NodeEntry>,
    pods: Rows<PodEntry>,
}

/// The configuration: none is accepted (`null` or `{}`); Kubernetes'
/// `PodTopologySpreadArgs.defaultConstraints` are not supported.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

impl PodTopologySpread {
    /// The plugin; its configuration must be `null` or `{}`.
    pub fn from_config(config: &str) -> Result<PodTopologySpread, PluginError> {
        let _: Option<Config> = serde_json::from_str(config).map_err(|e| {
            PluginError::new(format!(
                "bad configuration (PodTopologySpread takes none; defaultConstraints are not supported): {e}"
            ))
        })?;
        Ok(PodTopologySpread {
            nodes: Rows::new("node"),
            pods: Rows::new("placed pod"),
        })
    }

    /// A candidate's entry; an index never synced is an error.
    pub(crate) fn node(&self, index: u32) -> Result<&NodeEntry, PluginError> {
        self.nodes.get(index)
    }

    /// For each constraint, the placed pods it counts on each node (by node index): pods in
    /// `pod`'s namespace its selector matches. An empty selector counts none (Kubernetes'
    /// `countPodsMatchSelector`).
    pub(crate) fn matching_pods_per_node(
        &self,
        pod: &Pod,
        constraints: &[Constraint],
    ) -> Vec<Vec<i64>> {
        let mut counts = vec![vec![0; self.nodes.slots()]; constraints.len()];
        let same_namespace = self
            .pods
            .iter()
            .map(|(_, placed)| placed)
            .filter(|p| p.namespace == pod.namespace);
        for placed in same_namespace {
            for (i, constraint) in constraints.iter().enumerate() {
                let selector = &constraint.selector;
                if selector.is_empty() || !selector.matches(placed.labels.as_slice()) {
                    continue;
                }
                if let Some(count) = counts[i].get_mut(placed.node as usize) {
                    *count += 1;
                }
            }
        }
        counts
    }

    /// For each constraint, the domains among all nodes: the matching pods per value of its
    /// key, over the nodes that have every key and pass its inclusion policies.
    pub(crate) fn count_domains<'a>(
        &'a self,
        pod: &Pod,
        constraints: &[Constraint],
        per_node: &[Vec<i64>],
    ) -> Result<Vec<HashMap<&'a str, i64>>, PluginError> {
        let affinity = RequiredNodeAffinity::for_pod(pod)?;
        let mut domains: Vec<HashMap<&str, i64>> = vec![HashMap::new(); constraints.len()];
        for (index, node) in self.nodes.iter() {
            if !has_all_keys(node, constraints) {
                continue;
            }
            let fit = NodeFit::of(node, pod, &affinity, constraints);
            for (i, constraint) in constraints.iter().enumerate() {
                let Some(value) = node.labels.label(&constraint.topology_key) else {
                    continue;
                };
                if fit.admits(constraint) {
                    let count = per_node[i].get(index as usize).copied().unwrap_or(0);
                    *domains[i].entry(value).or_default() += count;
                }
            }
        }
        Ok(domains)
    }
}

/// Whether `node` has every constraint's topology key (Kubernetes'
/// `nodeLabelsMatchSpreadConstraints`).
pub(crate) fn has_all_keys(node: &NodeEntry, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| node.labels.contains_key(&c.topology_key))
}

impl Scheduler for PodTopologySpread {
    fn new(config: &str) -> Result<Self, PluginError> {
        PodTopologySpread::from_config(config)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FILTER
            .scoring()
            .with_pods()
            .filter_needs(PodFields::TOPOLOGY_SPREAD)
            .score_needs(PodFields::TOPOLOGY_SPREAD)
    }

    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.nodes
            .sync(upserts, removed, |node| node.index, NodeEntry::from);
    }

    fn sync_pods(&mut self, upserts: Vec<PlacedPod>, removed: Vec<u32>) {
        self.pods
            .sync(upserts, removed, |pod| pod.index, PodEntry::from);
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        filter::filter(self, pod, nodes)
    }

    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        score::score(self, pod, nodes)
    }
}

keel_sdk::export_scheduler!(PodTopologySpread);
