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
    Candidates, Capabilities, FilterResult, Node, PlacedPod, PluginError, Pod, PodFields, Scheduler,
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
    nodes: Vec<Option<NodeEntry>>,
    pods: Vec<Option<PodEntry>>,
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
        let config: Option<Config> = serde_json::from_str(config)
            .map_err(|e| PluginError::new(format!("bad configuration: {e}")))?;
        let config = config.unwrap_or_default();
        let hard_pod_affinity_weight = config.hard_pod_affinity_weight.unwrap_or(1);
        if !(0..=100).contains(&hard_pod_affinity_weight) {
            return Err(PluginError::new(
                "bad configuration: hardPodAffinityWeight must be in 0..=100",
            ));
        }
        Ok(InterPodAffinity {
            nodes: Vec::new(),
            pods: Vec::new(),
            with_affinity: BTreeSet::new(),
            with_required_anti_affinity: BTreeSet::new(),
            broken: BTreeMap::new(),
            hard_pod_affinity_weight,
            ignore_preferred_terms_of_existing_pods: config.ignore_preferred_terms_of_existing_pods,
        })
    }

    /// Adds or replaces nodes and forgets `removed`.
    pub fn sync_node_table(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        for index in removed {
            if let Some(slot) = self.nodes.get_mut(index as usize) {
                *slot = None;
            }
        }
        for node in upserts {
            let entry = NodeEntry {
                labels: node.labels.into_iter().collect(),
            };
            *slot_for(&mut self.nodes, node.index) = Some(entry);
        }
    }

    /// Adds or replaces placed pods, parsing their affinity, and forgets `removed`.
    pub fn sync_pod_table(&mut self, upserts: Vec<PlacedPod>, removed: Vec<u32>) {
        for index in removed {
            self.forget_pod(index);
        }
        for pod in upserts {
            self.forget_pod(pod.index);
            let owner = Owner {
                namespace: &pod.namespace,
                labels: &pod.labels,
            };
            let affinity = match Affinity::parse(pod.affinity_json.as_deref(), &owner) {
                Ok(affinity) => affinity,
                Err(error) => {
                    self.broken.insert(pod.index, error.message);
                    Affinity::default()
                }
            };
            if !affinity.is_empty() {
                self.with_affinity.insert(pod.index);
            }
            if !affinity.required_anti_affinity.is_empty() {
                self.with_required_anti_affinity.insert(pod.index);
            }
            let entry = PodEntry {
                namespace: pod.namespace,
                labels: pod.labels,
                node: pod.node,
                affinity,
            };
            *slot_for(&mut self.pods, pod.index) = Some(entry);
        }
    }

    fn forget_pod(&mut self, index: u32) {
        if let Some(slot) = self.pods.get_mut(index as usize) {
            *slot = None;
        }
        self.with_affinity.remove(&index);
        self.with_required_anti_affinity.remove(&index);
        self.broken.remove(&index);
    }

    /// A candidate's entry; an index never synced is an error.
    pub(crate) fn node(&self, index: u32) -> Result<&NodeEntry, PluginError> {
        self.nodes
            .get(index as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| PluginError::new(format!("node index {index} was never synced")))
    }

    /// A placed pod and its node, if both are known.
    pub(crate) fn placed(&self, index: u32) -> Option<(&PodEntry, &NodeEntry)> {
        let pod = self.pods.get(index as usize)?.as_ref()?;
        let node = self.nodes.get(pod.node as usize)?.as_ref()?;
        Some((pod, node))
    }

    /// Every placed pod on a known node.
    pub(crate) fn all_placed(&self) -> impl Iterator<Item = (&PodEntry, &NodeEntry)> {
        self.pods.iter().flatten().filter_map(|pod| {
            let node = self.nodes.get(pod.node as usize)?.as_ref()?;
            Some((pod, node))
        })
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

/// The slot for `index`, growing the table as needed.
fn slot_for<T>(table: &mut Vec<Option<T>>, index: u32) -> &mut Option<T> {
    let index = index as usize;
    if table.len() <= index {
        table.resize_with(index + 1, || None);
    }
    &mut table[index]
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
        self.sync_node_table(upserts, removed);
    }

    fn sync_pods(&mut self, upserts: Vec<PlacedPod>, removed: Vec<u32>) {
        self.sync_pod_table(upserts, removed);
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        filter::filter(self, pod, nodes)
    }

    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        score::score(self, pod, nodes)
    }
}

keel_sdk::export_scheduler!(InterPodAffinity);
