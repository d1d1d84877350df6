//! One scheduling cycle for one pod: filter, score, select.
//!
//! Filtering walks the nodes from where the last cycle stopped, a batch at a time: each
//! filter plugin, in order, gets the batch's nodes that every earlier one found feasible,
//! and a node's reasons are those of the first plugin that refused it. It stops once
//! [`nodes_to_find`] feasible nodes are found (Kubernetes' `percentageOfNodesToScore`).
//! Scoring sends the feasible nodes to every scorer; each score (0..=100) is multiplied
//! by the plugin's weight and summed, and the best node wins, ties broken at random.
//!
//! A plugin's failed call fails the cycle under `failurePolicy: Fail` and skips that
//! plugin for this pod under `Ignore`.

use std::collections::BTreeMap;

use rand::Rng;

use super::framework::SchedulingPlugin;
use super::snapshot::Snapshot;
use crate::plugin::calls::{Candidates, Capabilities, Pod, PodFields};
use crate::plugin::{CallError, FailurePolicy, Tables};

/// Below this many nodes every node is filtered.
pub const MIN_FEASIBLE_NODES: usize = 100;
/// The smallest adaptive percentage of nodes to filter.
pub const MIN_FEASIBLE_PERCENTAGE: usize = 5;

/// How many feasible nodes a cycle looks for among `all` nodes: every node in small
/// clusters; otherwise `percentage` of them (when unset, `50 - all/125`, at least 5%),
/// and at least [`MIN_FEASIBLE_NODES`], as kube-scheduler's `numFeasibleNodesToFind`.
pub fn nodes_to_find(all: usize, percentage: Option<u32>) -> usize {
    if all < MIN_FEASIBLE_NODES || percentage.is_some_and(|p| p >= 100) {
        return all;
    }
    let percentage = match percentage {
        Some(p) if p > 0 => p as usize,
        _ => 50usize
            .saturating_sub(all / 125)
            .max(MIN_FEASIBLE_PERCENTAGE),
    };
    (all * percentage / 100).max(MIN_FEASIBLE_NODES)
}

/// What a cycle found.
#[derive(Debug)]
pub enum Decision {
    /// Run the pod on node `node` (a node table index).
    Place {
        /// The chosen node.
        node: u32,
        /// Nodes filtered.
        evaluated: usize,
        /// Nodes found feasible.
        feasible: usize,
    },
    /// No node fits: the message Kubernetes would write ("0/5 nodes are available: ...").
    Unschedulable(String),
    /// A plugin failed under `failurePolicy: Fail`.
    Error(String),
}

/// The state kept between cycles: where the next one starts.
#[derive(Debug, Default)]
pub struct Cycles {
    next_start: usize,
    percentage: Option<u32>,
}

impl Cycles {
    /// Cycles that filter `percentage` of the nodes (`percentageOfNodesToScore`; none:
    /// adaptive).
    pub fn new(percentage: Option<u32>) -> Cycles {
        Cycles {
            next_start: 0,
            percentage,
        }
    }

    /// Schedules `pod` over `snapshot` with `plugins`.
    pub fn run(
        &mut self,
        snapshot: &Snapshot,
        plugins: &[std::sync::Arc<dyn SchedulingPlugin>],
        pod: &Pod,
    ) -> Decision {
        let order = snapshot.order();
        let all = order.len();
        if all == 0 {
            // kube-scheduler's ErrNoNodesAvailable.
            return Decision::Unschedulable("no nodes available to schedule pods".into());
        }
        let tables = Tables {
            nodes: snapshot.nodes(),
            usage: Some(snapshot.usage()),
            pods: Some(snapshot.pods()),
        };
        let fields = pod_fields(pod, snapshot);
        let found = match self.filter(snapshot, plugins, pod, fields, tables) {
            Ok(found) => found,
            Err(error) => return Decision::Error(error),
        };
        if found.feasible.is_empty() {
            return Decision::Unschedulable(unschedulable_message(all, &found.reasons));
        }
        let evaluated = found.evaluated;
        let feasible = found.feasible.len();
        match score(plugins, pod, fields, tables, found.feasible) {
            Ok(node) => Decision::Place {
                node,
                evaluated,
                feasible,
            },
            Err(error) => Decision::Error(error),
        }
    }

    fn filter(
        &mut self,
        snapshot: &Snapshot,
        plugins: &[std::sync::Arc<dyn SchedulingPlugin>],
        pod: &Pod,
        fields: PodFields,
        tables: Tables<'_>,
    ) -> Result<Filtered, String> {
        let order = snapshot.order();
        let all = order.len();
        let wanted = nodes_to_find(all, self.percentage);
        let filters: Vec<&std::sync::Arc<dyn SchedulingPlugin>> = plugins
            .iter()
            .filter(|p| {
                let c = p.capabilities();
                c.filters && needed(c.filter_needs, fields)
            })
            .collect();
        let start = self.next_start % all;
        let mut found = Filtered::default();
        while found.feasible.len() < wanted && found.evaluated < all {
            let take = (wanted - found.feasible.len())
                .max(MIN_FEASIBLE_NODES)
                .min(all - found.evaluated);
            let batch: Vec<u32> = (found.evaluated..found.evaluated + take)
                .map(|i| order[(start + i) % all])
                .collect();
            found.evaluated += take;
            let mut survivors = Candidates { index: batch };
            for plugin in &filters {
                if survivors.index.is_empty() {
                    break;
                }
                let tables = plugin_tables(plugin.as_ref(), tables);
                let result = match plugin.filter(tables, pod, &survivors) {
                    Ok(result) => result,
                    Err(error) => match failed(plugin.as_ref(), "filter", error) {
                        Some(error) => return Err(error),
                        None => continue,
                    },
                };
                let mut kept = Vec::with_capacity(survivors.index.len());
                for (&node, &code) in survivors.index.iter().zip(&result.codes) {
                    if code == 0 {
                        kept.push(node);
                        continue;
                    }
                    let reasons = result.reasons.get(usize::from(code) - 1);
                    for reason in reasons.into_iter().flatten() {
                        *found.reasons.entry(reason.clone()).or_default() += 1;
                    }
                }
                survivors.index = kept;
            }
            found.feasible.extend(survivors.index);
        }
        if found.feasible.len() > wanted {
            found.feasible.truncate(wanted);
        }
        // The next cycle starts after the last node this one looked at.
        self.next_start = (start + found.evaluated) % all;
        Ok(found)
    }
}

/// What `pod` sets, as plugins' `filter-needs` and `score-needs` name it.
fn pod_fields(pod: &Pod, snapshot: &Snapshot) -> PodFields {
    let mut fields = PodFields::empty();
    for (set, field) in [
        (pod.node_name.is_some(), PodFields::NODE_NAME),
        (!pod.node_selector.is_empty(), PodFields::NODE_SELECTOR),
        (pod.affinity_json.is_some(), PodFields::AFFINITY),
        (
            pod.topology_spread_json.is_some(),
            PodFields::TOPOLOGY_SPREAD,
        ),
        (
            snapshot.any_placed_affinity(),
            PodFields::PLACED_POD_AFFINITY,
        ),
    ] {
        if set {
            fields |= field;
        }
    }
    fields
}

/// Whether a call that needs `needs` (none: always) matters for a pod setting `fields`.
fn needed(needs: Option<PodFields>, fields: PodFields) -> bool {
    needs.is_none_or(|needs| needs.intersects(fields))
}

/// Feasible nodes, how many were looked at, and a count per reason for the rest.
#[derive(Default)]
struct Filtered {
    feasible: Vec<u32>,
    evaluated: usize,
    reasons: BTreeMap<String, usize>,
}

/// The tables a plugin gets: usage and placed pods only when it reads them.
fn plugin_tables<'a>(plugin: &dyn SchedulingPlugin, tables: Tables<'a>) -> Tables<'a> {
    let c = plugin.capabilities();
    Tables {
        nodes: tables.nodes,
        usage: tables.usage.filter(|_| c.reads_usage),
        pods: tables.pods.filter(|_| c.reads_pods),
    }
}

/// Applies a plugin's failure policy to a failed call: the cycle's error under `Fail`,
/// none (skip the plugin) under `Ignore`.
fn failed(plugin: &dyn SchedulingPlugin, step: &str, error: CallError) -> Option<String> {
    match plugin.failure_policy() {
        FailurePolicy::Fail => Some(format!(
            "running {step} plugin {:?}: {error}",
            plugin.name()
        )),
        FailurePolicy::Ignore => {
            tracing::warn!(plugin = plugin.name(), %error, "{step} failed; ignored under its failure policy");
            None
        }
    }
}

/// Scores `feasible` and picks the best, ties broken at random.
fn score(
    plugins: &[std::sync::Arc<dyn SchedulingPlugin>],
    pod: &Pod,
    fields: PodFields,
    tables: Tables<'_>,
    feasible: Vec<u32>,
) -> Result<u32, String> {
    let mut totals = vec![0u64; feasible.len()];
    if feasible.len() > 1 {
        let scorers = plugins.iter().filter(|p| {
            let c: Capabilities = p.capabilities();
            c.scores && p.weight() > 0 && needed(c.score_needs, fields)
        });
        let candidates = Candidates {
            index: feasible.clone(),
        };
        for plugin in scorers {
            let tables = plugin_tables(plugin.as_ref(), tables);
            match plugin.score(tables, pod, &candidates) {
                Ok(scores) => {
                    let weight = u64::from(plugin.weight());
                    for (total, score) in totals.iter_mut().zip(scores) {
                        *total += u64::from(score) * weight;
                    }
                }
                Err(error) => {
                    if let Some(error) = failed(plugin.as_ref(), "score", error) {
                        return Err(error);
                    }
                }
            }
        }
    }
    Ok(select(&feasible, &totals, &mut rand::rng()))
}

/// The node with the highest total; among equals, each is equally likely (reservoir
/// sampling, as kube-scheduler's `selectHost`).
fn select(nodes: &[u32], totals: &[u64], rng: &mut impl Rng) -> u32 {
    let mut best = 0;
    let mut ties = 0u32;
    for i in 0..nodes.len() {
        if totals[i] > totals[best] {
            best = i;
            ties = 1;
        } else if totals[i] == totals[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    nodes[best]
}

/// "0/5 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}, 3
/// Insufficient cpu." Each reason is counted once per node it refused, and the counted
/// reasons are sorted as text, as kube-scheduler's `FitError` prints them.
pub fn unschedulable_message(all: usize, reasons: &BTreeMap<String, usize>) -> String {
    let mut counted: Vec<String> = reasons
        .iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    counted.sort();
    if counted.is_empty() {
        format!("0/{all} nodes are available.")
    } else {
        format!("0/{all} nodes are available: {}.", counted.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_of_nodes_filtered_adapts_to_cluster_size() {
        // kube-scheduler's numFeasibleNodesToFind.
        assert_eq!(nodes_to_find(50, None), 50);
        assert_eq!(nodes_to_find(500, None), 230, "50 - 500/125 = 46%");
        assert_eq!(nodes_to_find(5000, None), 500, "50 - 40 = 10%");
        assert_eq!(nodes_to_find(100_000, None), 5000, "at least 5%");
        assert_eq!(nodes_to_find(1000, Some(1)), 100, "at least 100 nodes");
        assert_eq!(nodes_to_find(1000, Some(100)), 1000);
    }

    #[test]
    fn the_message_counts_and_sorts_reasons() {
        let reasons = BTreeMap::from([
            ("Insufficient cpu".to_string(), 3),
            (
                "node(s) had untolerated taint {dedicated: gpu}".to_string(),
                2,
            ),
        ]);
        assert_eq!(
            unschedulable_message(5, &reasons),
            "0/5 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}, 3 Insufficient cpu."
        );
    }

    use crate::plugin::calls::{FilterResult, Resources};
    use crate::plugin::{CallErrorKind, FailurePolicy};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A filter that refuses every node but the first, or fails; counts its calls.
    struct Fake {
        capabilities: Capabilities,
        fails: Option<FailurePolicy>,
        calls: AtomicU32,
    }

    impl SchedulingPlugin for Fake {
        fn name(&self) -> &str {
            "fake"
        }
        fn weight(&self) -> u32 {
            1
        }
        fn failure_policy(&self) -> FailurePolicy {
            self.fails.unwrap_or(FailurePolicy::Fail)
        }
        fn capabilities(&self) -> Capabilities {
            self.capabilities
        }
        fn filter(
            &self,
            _: Tables<'_>,
            _: &Pod,
            c: &Candidates,
        ) -> Result<FilterResult, CallError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.fails.is_some() {
                return Err(CallError {
                    plugin: "fake".into(),
                    kind: CallErrorKind::Plugin("broken".into()),
                });
            }
            let codes = (0..c.index.len()).map(|i| u16::from(i > 0)).collect();
            Ok(FilterResult {
                codes,
                reasons: vec![vec!["node(s) were refused".into()]],
            })
        }
        fn score(&self, _: Tables<'_>, _: &Pod, c: &Candidates) -> Result<Vec<u32>, CallError> {
            Ok(vec![0; c.index.len()])
        }
    }

    fn fake(filter_needs: Option<PodFields>, fails: Option<FailurePolicy>) -> Arc<Fake> {
        Arc::new(Fake {
            capabilities: Capabilities {
                filters: true,
                scores: false,
                reads_usage: false,
                reads_pods: false,
                filter_needs,
                score_needs: None,
            },
            fails,
            calls: AtomicU32::new(0),
        })
    }

    fn cluster(nodes: usize) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for i in 0..nodes {
            snapshot.upsert_node(&serde_json::json!({"metadata": {"name": format!("n{i}")}}));
        }
        snapshot
    }

    fn pod(node_name: Option<&str>) -> Pod {
        Pod {
            namespace: "d".into(),
            name: "p".into(),
            labels: vec![],
            node_name: node_name.map(str::to_string),
            node_selector: vec![],
            tolerations: vec![],
            requests: Resources {
                milli_cpu: 0,
                memory: 0,
                pods: 1,
                extended: vec![],
            },
            affinity_json: None,
            topology_spread_json: None,
        }
    }

    #[test]
    fn a_filter_is_skipped_for_pods_without_the_fields_it_needs() {
        // kube-scheduler's PreFilter Skip: NodeName has nothing to do for a pod with no nodeName.
        let snapshot = cluster(3);
        let plugin = fake(Some(PodFields::NODE_NAME), None);
        let plugins: Vec<Arc<dyn SchedulingPlugin>> = vec![plugin.clone()];
        let mut cycles = Cycles::default();
        assert!(matches!(
            cycles.run(&snapshot, &plugins, &pod(None)),
            Decision::Place { feasible: 3, .. }
        ));
        assert_eq!(plugin.calls.load(Ordering::Relaxed), 0);
        let Decision::Place { feasible, .. } = cycles.run(&snapshot, &plugins, &pod(Some("n0")))
        else {
            panic!("placed");
        };
        assert_eq!((feasible, plugin.calls.load(Ordering::Relaxed)), (1, 1));
    }

    #[test]
    fn a_failing_plugin_fails_the_cycle_or_is_skipped_by_its_policy() {
        let snapshot = cluster(2);
        let mut cycles = Cycles::default();
        let fail: Vec<Arc<dyn SchedulingPlugin>> = vec![fake(None, Some(FailurePolicy::Fail))];
        let Decision::Error(message) = cycles.run(&snapshot, &fail, &pod(None)) else {
            panic!("Fail fails the cycle");
        };
        assert!(
            message.contains("running filter plugin \"fake\""),
            "{message}"
        );
        let ignore: Vec<Arc<dyn SchedulingPlugin>> = vec![fake(None, Some(FailurePolicy::Ignore))];
        assert!(matches!(
            cycles.run(&snapshot, &ignore, &pod(None)),
            Decision::Place { feasible: 2, .. }
        ));
        let refuse: Vec<Arc<dyn SchedulingPlugin>> = vec![fake(None, None), fake(None, None)];
        // The first refuses n1 (its second candidate); nothing is left for the second but one.
        let Decision::Place { feasible: 1, .. } = cycles.run(&snapshot, &refuse, &pod(None)) else {
            panic!("one node left");
        };
        let none = cluster(0);
        assert!(matches!(
            cycles.run(&none, &refuse, &pod(None)),
            Decision::Unschedulable(_)
        ));
    }

    #[test]
    fn selection_takes_the_best_and_breaks_ties_at_random() {
        let mut rng = rand::rng();
        assert_eq!(select(&[7, 8, 9], &[1, 5, 2], &mut rng), 8);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.insert(select(&[1, 2, 3], &[4, 4, 1], &mut rng));
        }
        assert_eq!(seen, std::collections::HashSet::from([1, 2]));
    }
}
