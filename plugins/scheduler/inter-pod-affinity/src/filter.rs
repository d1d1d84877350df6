//! The filter: Kubernetes' `InterPodAffinity` PreFilter counts and Filter checks.

use keel_sdk::scheduler::{Candidates, FilterResult, PluginError, Pod, Verdicts};

use crate::terms::{Affinity, Term};
use crate::topology::TopologySums;
use crate::{InterPodAffinity, NodeEntry, PodEntry};

/// The incoming pod's required affinity terms are not met.
pub const AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// The incoming pod's required anti-affinity terms are not met.
pub const ANTI_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod anti-affinity rules";
/// A placed pod's required anti-affinity terms reject the incoming pod.
pub const EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Which candidates the required rules allow.
pub(crate) fn filter(
    plugin: &InterPodAffinity,
    pod: &Pod,
    nodes: &Candidates,
) -> Result<FilterResult, PluginError> {
    plugin.check_placed()?;
    let affinity = InterPodAffinity::incoming(pod)?;
    if affinity.required_affinity.is_empty()
        && affinity.required_anti_affinity.is_empty()
        && plugin.with_required_anti_affinity.is_empty()
    {
        return Ok(FilterResult::all_feasible(pod, nodes));
    }
    let state = State::new(plugin, pod, &affinity);
    Verdicts::one_reason_each(nodes, |index| Ok(state.reason(plugin.node(index)?)))
}

/// Kubernetes' preFilterState: matching pod counts per topology domain.
struct State<'a> {
    affinity: &'a Affinity,
    /// Placed pods matching all the incoming pod's required affinity terms, per domain of
    /// each term.
    affinity_counts: TopologySums<'a>,
    /// Placed pods matching an incoming required anti-affinity term, per its domain.
    anti_affinity_counts: TopologySums<'a>,
    /// Placed pods whose required anti-affinity matches the incoming pod, per domain.
    existing_anti_affinity_counts: TopologySums<'a>,
    /// The incoming pod matches all its own required affinity terms.
    matches_own_affinity: bool,
}

impl<'a> State<'a> {
    fn new(plugin: &'a InterPodAffinity, pod: &Pod, affinity: &'a Affinity) -> State<'a> {
        let mut state = State {
            affinity,
            affinity_counts: TopologySums::default(),
            anti_affinity_counts: TopologySums::default(),
            existing_anti_affinity_counts: TopologySums::default(),
            matches_own_affinity: matches_all(
                &affinity.required_affinity,
                &pod.namespace,
                &pod.labels,
            ),
        };
        state.count_existing_anti_affinity(plugin, pod);
        if !affinity.required_affinity.is_empty() || !affinity.required_anti_affinity.is_empty() {
            for (placed, node) in plugin.all_placed() {
                state.count_incoming(placed, node);
            }
        }
        state
    }

    fn count_existing_anti_affinity(&mut self, plugin: &'a InterPodAffinity, pod: &Pod) {
        for &index in &plugin.with_required_anti_affinity {
            let Some((placed, node)) = plugin.placed(index) else {
                continue;
            };
            for term in &placed.affinity.required_anti_affinity {
                if term.matches(&pod.namespace, pod.labels.as_slice()) {
                    self.existing_anti_affinity_counts
                        .add(node, &term.topology_key, 1);
                }
            }
        }
    }

    fn count_incoming(&mut self, placed: &PodEntry, node: &'a NodeEntry) {
        let affinity: &'a Affinity = self.affinity;
        let terms = &affinity.required_affinity;
        if matches_all(terms, &placed.namespace, &placed.labels) {
            for term in terms {
                self.affinity_counts.add(node, &term.topology_key, 1);
            }
        }
        for term in &affinity.required_anti_affinity {
            if term.matches(&placed.namespace, placed.labels.as_slice()) {
                self.anti_affinity_counts.add(node, &term.topology_key, 1);
            }
        }
    }

    /// Why `node` cannot run the pod, if it cannot: the first rule it breaks.
    fn reason(&self, node: &NodeEntry) -> Option<&'static str> {
        if !self.satisfies_affinity(node) {
            Some(AFFINITY_RULES_NOT_MATCH)
        } else if !self.satisfies_anti_affinity(node) {
            Some(ANTI_AFFINITY_RULES_NOT_MATCH)
        } else if self.existing_anti_affinity_counts.any_positive(node) {
            Some(EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
        } else {
            None
        }
    }

    /// Kubernetes' `satisfyPodAffinity`.
    fn satisfies_affinity(&self, node: &NodeEntry) -> bool {
        let mut pods_exist = true;
        for term in &self.affinity.required_affinity {
            match self.affinity_counts.for_node(node, &term.topology_key) {
                // All topology labels must exist on the node.
                None => return false,
                Some(count) if count <= 0 => pods_exist = false,
                Some(_) => {}
            }
        }
        // The first pod of a group with affinity to itself: no placed pod matches, and
        // the pod matches its own terms.
        pods_exist || (self.affinity_counts.is_empty() && self.matches_own_affinity)
    }

    /// Kubernetes' `satisfyPodAntiAffinity`: a node without the label is not blocked.
    fn satisfies_anti_affinity(&self, node: &NodeEntry) -> bool {
        self.affinity.required_anti_affinity.iter().all(|term| {
            self.anti_affinity_counts
                .for_node(node, &term.topology_key)
                .is_none_or(|count| count <= 0)
        })
    }
}

/// Whether a pod matches every term (false for no terms), topology aside.
fn matches_all(terms: &[Term], namespace: &str, labels: &[(String, String)]) -> bool {
    !terms.is_empty() && terms.iter().all(|term| term.matches(namespace, labels))
}
