//! Scheduler plugin: Kubernetes' `InterPodAffinity`, its filter and its score, over the
//! pods already placed.
//!
//! It owns the pod (anti-)affinity rules of `spec.affinity.podAffinity` and
//! `spec.affinity.podAntiAffinity`, following kube-scheduler's plugin:
//! - Filter, in Kubernetes' order, one reason per node:
//!   1. every required affinity term of the incoming pod needs a placed pod matching all of
//!      them in the node's domain of the term's `topologyKey`; a node without that label
//!      fails. As in Kubernetes, the first pod of a group passes when no placed pod matches
//!      and the pod matches its own terms ("node(s) didn't match pod affinity rules");
//!   2. no placed pod matching a required anti-affinity term of the incoming pod may be in
//!      the node's domain ("node(s) didn't match pod anti-affinity rules");
//!   3. symmetry: no placed pod whose required anti-affinity term matches the incoming pod
//!      may be in the node's domain ("node(s) didn't satisfy existing pods anti-affinity
//!      rules"). A node without the term's label is not blocked by anti-affinity.
//! - Score: for each placed pod, the incoming pod's preferred affinity (+weight) and
//!   anti-affinity (-weight) terms it matches, the placed pod's preferred terms the
//!   incoming pod matches (±weight) and its required affinity terms the incoming pod
//!   matches (`hardPodAffinityWeight`, default 1) add up per topology domain; a node gets
//!   the sum of its domains, normalised to 0..=100 as Kubernetes' `NormalizeScore` does.
//!
//! The configuration is Kubernetes' `InterPodAffinityArgs` (`hardPodAffinityWeight`,
//! `ignorePreferredTermsOfExistingPods`); `null` means the defaults.
//!
//! Nodes and placed pods are resident (by index); each placed pod's affinity is parsed when
//! it is synced. A placed pod whose affinity cannot be parsed makes every call fail until
//! it is replaced or removed. When neither the incoming pod nor any placed pod has a rule
//! that applies, `filter` and `score` answer without per-node work.
//!
//! Left out: `namespaceSelector` other than `{}` (the plugin sees no namespace labels; it
//! is an error), label key and value syntax checks (the API server's), terminating pods
//! (the host places none), and preemption's add/remove-pod bookkeeping.
//! `matchLabelKeys` and `mismatchLabelKeys` are merged into the term's selector from the
//! owning pod's labels, as the API server does when it admits the pod.

mod filter;
mod score;
mod terms;
#[cfg(test)]
mod tests;
mod topology;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use keel_sdk::scheduler::{
    Candidates, Capabilities, FilterResult, Node, PlacedPod, PluginError, Pod, PodFields, Rows,
    Scheduler, parse_config,
};
use serde::Deserialize;

use terms::{Affinity, Owner};

/// The largest score a node can get.
pub const MAX_SCORE: u32 = 100;

/// Kubernetes' `InterPodAffinityArgs`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    hard_pod_affinity_weight: Option<i64>,
    #[serde(default)]
    ignore_preferred_terms_of_existing_pods: bool,
}

/// A node as this plugin keeps it: its labels.
#[derive(Debug)]
pub(crate) struct NodeEntry {
    pub(crate) labels: HashMap<String, String>,
}

impl From<Node> for NodeEntry {
    fn from(node: Node) -> NodeEntry {
        NodeEntry {
            labels: node.labels.into_iter().collect(),
        }
    }
}

/// A placed pod as this plugin keeps it, its affinity parsed.
#[derive(Debug)]
pub(crate) struct PodEntry {
    pub(crate) namespace: String,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) node: u32,
    pub(crate) affinity: Affinity,
}

/// InterPodAffinity: the node and placed-pod tables, and the configuration.
pub struct InterPodAffinity {
    nodes: Rows<NodeEntry>,
    pods: Rows<PodEntry>,
    /// Placed pods with any pod (anti-)affinity term (Kubernetes' `PodsWithAffinity`).
    with_affinity: BTreeSet<u32>,
    /// Placed pods with required anti-affinity terms.
    with_required_anti_affinity: BTreeSet<u32>,
    /// Placed pods whose affinity could not be parsed, and why.
    broken: BTreeMap<u32, String>,
    hard_pod_affinity_weight: i64,
    ignore_preferred_terms_of_existing_pods: bool,
}

impl InterPodAffinity {
    /// The plugin for an `InterPodAffinityArgs`-shaped configuration (`null`: the defaults).
    pub fn from_config(config: &str) -> Result<InterPodAffinity, PluginError> {
        let config: Option<Config> = parse_config(config)?;
        let config = config.unwrap_or_default();
        let hard_pod_affinity_weight = config.hard_pod_affinity_weight.unwrap_or(1);
        if !(0..=100).contains(&hard_pod_affinity_weight) {
            return Err(PluginError::new(
                "bad configuration: hardPodAffinityWeight must be in 0..=100",
            ));
        }
        Ok(InterPodAffinity {
            nodes: Rows::new("node"),
            pods: Rows::new("placed pod"),
            with_affinity: BTreeSet::new(),
            with_required_anti_affinity: BTreeSet::new(),
            broken: BTreeMap::new(),
            hard_pod_affinity_weight,
            ignore_preferred_terms_of_existing_pods: config.ignore_preferred_terms_of_existing_pods,
        })
    }

    /// A candidate's entry; an index never synced is an error.
    pub(crate) fn node(&self, index: u32) -> Result<&NodeEntry, PluginError> {
        self.nodes.get(index)
    }

    /// A placed pod and its node, if both are known.
    pub(crate) fn placed(&self, index: u32) -> Option<(&PodEntry, &NodeEntry)> {
        let pod = self.pods.find(index)?;
        let node = self.nodes.find(pod.node)?;
        Some((pod, node))
    }

    /// Every placed pod on a known node.
    pub(crate) fn all_placed(&self) -> impl Iterator<Item = (&PodEntry, &NodeEntry)> {
        self.pods
            .iter()
            .filter_map(|(_, pod)| Some((pod, self.nodes.find(pod.node)?)))
    }

    /// Fails when a placed pod's affinity could not be parsed: its rules cannot be honoured.
    pub(crate) fn check_placed(&self) -> Result<(), PluginError> {
        match self.broken.iter().next() {
            None => Ok(()),
            Some((index, message)) => {
                Err(PluginError::new(format!("placed pod {index}: {message}")))
            }
        }
    }

    /// The incoming pod's terms.
    pub(crate) fn incoming(pod: &Pod) -> Result<Affinity, PluginError> {
        let owner = Owner {
            namespace: &pod.namespace,
            labels: &pod.labels,
        };
        Affinity::parse(pod.affinity_json.as_deref(), &owner)
    }
}

impl Scheduler for InterPodAffinity {
    fn new(config: &str) -> Result<Self, PluginError> {
        InterPodAffinity::from_config(config)
    }

    fn capabilities(&self) -> Capabilities {
        // Rules come from the pod's affinity or, symmetrically, from placed pods'.
        let needs = PodFields::AFFINITY | PodFields::PLACED_POD_AFFINITY;
        Capabilities::FILTER
            .scoring()
            .with_pods()
            .filter_needs(needs)
            .score_needs(needs)
    }

    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.nodes
            .sync(upserts, removed, |node| node.index, NodeEntry::from);
    }

    fn sync_pods(&mut self, upserts: Vec<PlacedPod>, removed: Vec<u32>) {
        // Each placed pod's affinity is parsed here, once; a removed or replaced pod's
        // flags go with it.
        for index in &removed {
            self.with_affinity.remove(index);
            self.with_required_anti_affinity.remove(index);
            self.broken.remove(index);
        }
        let (with_affinity, with_required_anti_affinity, broken) = (
            &mut self.with_affinity,
            &mut self.with_required_anti_affinity,
            &mut self.broken,
        );
        self.pods.sync(
            upserts,
            removed,
            |pod| pod.index,
            |pod| {
                with_affinity.remove(&pod.index);
                with_required_anti_affinity.remove(&pod.index);
                broken.remove(&pod.index);
                let owner = Owner {
                    namespace: &pod.namespace,
                    labels: &pod.labels,
                };
                let affinity = match Affinity::parse(pod.affinity_json.as_deref(), &owner) {
                    Ok(affinity) => affinity,
                    Err(error) => {
                        broken.insert(pod.index, error.message);
                        Affinity::default()
                    }
                };
                if !affinity.is_empty() {
                    with_affinity.insert(pod.index);
                }
                if !affinity.required_anti_affinity.is_empty() {
                    with_required_anti_affinity.insert(pod.index);
                }
                PodEntry {
                    namespace: pod.namespace,
                    labels: pod.labels,
                    node: pod.node,
                    affinity,
                }
            },
        );
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        filter::filter(self, pod, nodes)
    }

    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        score::score(self, pod, nodes)
    }
}

keel_sdk::export_scheduler!(InterPodAffinity);
