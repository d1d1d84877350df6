//! Scheduler plugin: Kubernetes' `NodeAffinity`, filter and score.
//!
//! Follows kube-scheduler's `nodeaffinity` plugin
//! (`pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go`) and the term matching of
//! `k8s.io/component-helpers/scheduling/corev1/nodeaffinity` (module `selector`):
//! - Filter: a node fits when it has every `spec.nodeSelector` label and matches
//!   `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution` (its terms
//!   ORed, each term's expressions ANDed); otherwise "node(s) didn't match Pod's node
//!   affinity/selector".
//! - Score: the sum of the weights of the pod's
//!   `preferredDuringSchedulingIgnoredDuringExecution` terms the node matches, normalised as
//!   `DefaultNormalizeScore(100, reverse = false)`: the best candidate scores 100, and all
//!   score 0 when none matches.
//! - Configuration, as Kubernetes' `NodeAffinityArgs`: `{"addedAffinity": {...}}`, a node
//!   affinity applied to every pod. Its required terms must match as well as the pod's; a
//!   node that fails them is refused first, for "node(s) didn't match scheduler-enforced node
//!   affinity". Its preferred terms add to every pod's.
//!
//! The plugin keeps each node's name and labels by node index; it reads no usage. The pod's
//! `spec.affinity` arrives as JSON and is parsed per call; JSON that is not an affinity is a
//! [`PluginError`] naming `spec.affinity`.

mod selector;

use keel_sdk::scheduler::{
    Candidates, Capabilities, FilterResult, Node, PluginError, Pod, PodFields, Rows, Scheduler,
    Verdicts, parse_config,
};
use selector::{AffinitySpec, NodeAffinitySpec, NodeView, Preferred, Selector};
use serde::Deserialize;

/// Why a node does not fit the pod, worded as Kubernetes' `nodeaffinity.ErrReasonPod`.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";

/// Why a node does not fit the configured `addedAffinity` (Kubernetes' `errReasonEnforced`).
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";

/// The largest score a node can get (`framework.MaxNodeScore`).
pub const MAX_SCORE: i64 = 100;

const ADDED_REQUIRED: &str = "addedAffinity.requiredDuringSchedulingIgnoredDuringExecution";
const ADDED_PREFERRED: &str = "addedAffinity.preferredDuringSchedulingIgnoredDuringExecution";
const POD_PREFERRED: &str =
    "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution";

/// The plugin's configuration, as Kubernetes' `NodeAffinityArgs`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Args {
    added_affinity: Option<NodeAffinitySpec>,
}

/// A node as the plugin keeps it: its name and its labels sorted by key.
struct NodeLabels {
    name: String,
    labels: Vec<(String, String)>,
}

/// NodeAffinity: every node's name and labels, by node index, and the configured affinity.
pub struct NodeAffinity {
    nodes: Rows<NodeLabels>,
    added_required: Option<Selector>,
    added_preferred: Preferred,
}

impl NodeAffinity {
    /// The plugin for a `NodeAffinityArgs`-shaped configuration (`null`: no added affinity).
    pub fn from_config(config: &str) -> Result<NodeAffinity, PluginError> {
        let args: Option<Args> = parse_config(config)?;
        let added = args.and_then(|a| a.added_affinity).unwrap_or_default();
        let added_required = added
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .map(|ns| Selector::strict(ns, ADDED_REQUIRED))
            .transpose()
            .map_err(config_error)?;
        let added_preferred = Preferred::parse(
            &added.preferred_during_scheduling_ignored_during_execution,
            ADDED_PREFERRED,
        )
        .map_err(config_error)?;
        Ok(NodeAffinity {
            nodes: Rows::new("node"),
            added_required,
            added_preferred,
        })
    }

    fn node(&self, index: u32) -> Result<NodeView<'_>, PluginError> {
        let node = self.nodes.get(index)?;
        Ok(NodeView {
            name: &node.name,
            labels: &node.labels,
        })
    }

    fn enforced(&self, node: &NodeView) -> bool {
        self.added_required.as_ref().is_none_or(|s| s.matches(node))
    }
}

fn config_error(error: impl std::fmt::Display) -> PluginError {
    PluginError::new(format!("bad configuration: {error}"))
}

/// The pod's `spec.affinity.nodeAffinity` (empty when it has none).
fn pod_node_affinity(pod: &Pod) -> Result<NodeAffinitySpec, PluginError> {
    let Some(json) = pod.affinity_json.as_deref() else {
        return Ok(NodeAffinitySpec::default());
    };
    let affinity: Option<AffinitySpec> = serde_json::from_str(json)
        .map_err(|e| PluginError::new(format!("spec.affinity: bad JSON: {e}")))?;
    Ok(affinity.and_then(|a| a.node_affinity).unwrap_or_default())
}

/// Whether the node has every `spec.nodeSelector` label and matches the required affinity
/// (`RequiredNodeAffinity.Match`).
fn matches_pod(pod: &Pod, required: Option<&Selector>, node: &NodeView) -> bool {
    let selector = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.label(k) == Some(v.as_str()));
    selector && required.is_none_or(|s| s.matches(node))
}

/// `DefaultNormalizeScore(MaxNodeScore, reverse = false, scores)`: `score * 100 / max`, left
/// as is when no score is positive; clamped to 0..=100.
fn normalize(scores: &[i64]) -> Vec<u32> {
    let max = scores.iter().copied().fold(0, i64::max);
    scores
        .iter()
        .map(|&score| {
            if max == 0 {
                score
            } else {
                score * MAX_SCORE / max
            }
        })
        .map(|score| score.clamp(0, MAX_SCORE) as u32)
        .collect()
}

impl Scheduler for NodeAffinity {
    fn new(config: &str) -> Result<Self, PluginError> {
        NodeAffinity::from_config(config)
    }

    fn capabilities(&self) -> Capabilities {
        let pod_rules = PodFields::NODE_SELECTOR | PodFields::AFFINITY;
        let mut capabilities = Capabilities::FILTER.scoring();
        // Rules configured here (addedAffinity) apply to every pod.
        if self.added_required.is_none() {
            capabilities = capabilities.filter_needs(pod_rules);
        }
        if self.added_preferred.is_empty() {
            capabilities = capabilities.score_needs(PodFields::AFFINITY);
        }
        capabilities
    }

    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.nodes.sync(
            upserts,
            removed,
            |node| node.index,
            |node| {
                let mut labels = node.labels;
                labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                NodeLabels {
                    name: node.name,
                    labels,
                }
            },
        );
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        let affinity = pod_node_affinity(pod)?;
        let required = affinity
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .map(Selector::lazy);
        Verdicts::one_reason_each(nodes, |index| {
            let node = self.node(index)?;
            Ok(if !self.enforced(&node) {
                Some(ERR_REASON_ENFORCED)
            } else if !matches_pod(pod, required.as_ref(), &node) {
                Some(ERR_REASON_POD)
            } else {
                None
            })
        })
    }

    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        let affinity = pod_node_affinity(pod)?;
        let preferred = Preferred::parse(
            &affinity.preferred_during_scheduling_ignored_during_execution,
            POD_PREFERRED,
        )
        .map_err(PluginError::new)?;
        let mut scores = Vec::with_capacity(nodes.index.len());
        for &index in &nodes.index {
            let node = self.node(index)?;
            scores.push(self.added_preferred.score(&node) + preferred.score(&node));
        }
        Ok(normalize(&scores))
    }
}

keel_sdk::export_scheduler!(NodeAffinity);

#[cfg(test)]
mod tests;
