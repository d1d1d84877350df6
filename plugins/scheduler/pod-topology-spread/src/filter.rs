//! The filter: Kubernetes' `PodTopologySpread` PreFilter counts and Filter checks over the
//! `DoNotSchedule` constraints.

use std::collections::HashMap;

use keel_sdk::scheduler::{Candidates, FilterResult, PluginError, Pod, Verdicts};

use crate::constraint::{self, Constraint, WhenUnsatisfiable};
use crate::{NodeEntry, PodTopologySpread};
use keel_sdk::labels::Labels;

/// The spread would exceed `maxSkew` on this node.
pub const CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
/// The node lacks a constraint's topology key.
pub const NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// Which candidates keep every hard constraint.
pub(crate) fn filter(
    plugin: &PodTopologySpread,
    pod: &Pod,
    nodes: &Candidates,
) -> Result<FilterResult, PluginError> {
    let constraints = constraint::for_pod(pod, WhenUnsatisfiable::DoNotSchedule)?;
    if constraints.is_empty() {
        return Ok(FilterResult::all_feasible(pod, nodes));
    }
    let per_node = plugin.matching_pods_per_node(pod, &constraints);
    let domains = plugin.count_domains(pod, &constraints, &per_node)?;
    let state = State::new(pod, &constraints, domains);
    Verdicts::one_reason_each(nodes, |index| Ok(state.reason(plugin.node(index)?)))
}

/// Per constraint: the matching pods per domain, the global minimum, and whether the
/// incoming pod itself matches.
struct State<'a> {
    constraints: &'a [Constraint],
    domains: Vec<HashMap<&'a str, i64>>,
    global_min: Vec<i64>,
    self_match: Vec<i64>,
}

impl<'a> State<'a> {
    fn new(
        pod: &Pod,
        constraints: &'a [Constraint],
        domains: Vec<HashMap<&'a str, i64>>,
    ) -> State<'a> {
        let global_min = constraints
            .iter()
            .zip(&domains)
            .map(|(c, counts)| global_min(c, counts))
            .collect();
        let self_match = constraints
            .iter()
            .map(|c| i64::from(c.selector.matches(pod.labels.as_slice())))
            .collect();
        State {
            constraints,
            domains,
            global_min,
            self_match,
        }
    }

    /// Why `node` cannot run the pod, if it cannot: the first constraint it breaks.
    fn reason(&self, node: &NodeEntry) -> Option<&'static str> {
        for (i, constraint) in self.constraints.iter().enumerate() {
            let Some(value) = node.labels.label(&constraint.topology_key) else {
                return Some(NODE_LABEL_NOT_MATCH);
            };
            let count = self.domains[i].get(value).copied().unwrap_or(0);
            let skew = count + self.self_match[i] - self.global_min[i];
            if skew > constraint.max_skew {
                return Some(CONSTRAINTS_NOT_MATCH);
            }
        }
        None
    }
}

/// The least count over the eligible domains; 0 when there are fewer than `minDomains`.
fn global_min(constraint: &Constraint, counts: &HashMap<&str, i64>) -> i64 {
    if counts.len() < constraint.min_domains {
        return 0;
    }
    counts.values().copied().min().unwrap_or(0)
}
