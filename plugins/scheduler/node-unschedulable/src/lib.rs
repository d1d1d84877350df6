//! Scheduler plugin: Kubernetes' `NodeUnschedulable` filter.
//!
//! A cordoned node (`spec.unschedulable`) takes no new pods, unless the pod tolerates the
//! taint `node.kubernetes.io/unschedulable:NoSchedule` (the taint the node lifecycle
//! controller mirrors `spec.unschedulable` into). This follows kube-scheduler's
//! `nodeunschedulable` plugin (`pkg/scheduler/framework/plugins/nodeunschedulable`), its
//! toleration check (`v1helper.TolerationsTolerateTaint` against that taint, value empty) and
//! its reason, "node(s) were unschedulable".
//!
//! The plugin keeps one flag per node index; it neither scores nor reads usage.

use keel_sdk::scheduler::{
    Candidates, Capabilities, FilterResult, Node, PluginError, Pod, Rows, Scheduler, TaintEffect,
    Toleration, TolerationOperator, Verdicts,
};

/// Why a node does not fit, worded as Kubernetes' `nodeunschedulable.ErrReasonUnschedulable`.
pub const ERR_REASON: &str = "node(s) were unschedulable";

/// The taint whose toleration lets a pod onto a cordoned node (`v1.TaintNodeUnschedulable`).
pub const TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

/// NodeUnschedulable: whether each node is cordoned, by node index.
pub struct NodeUnschedulable {
    unschedulable: Rows<bool>,
}

/// Whether `toleration` tolerates `node.kubernetes.io/unschedulable:NoSchedule` (empty
/// value), by Kubernetes' `Toleration.ToleratesTaint`.
fn tolerates_unschedulable(toleration: &Toleration) -> bool {
    let effect_matches = toleration
        .effect
        .is_none_or(|effect| effect == TaintEffect::NoSchedule);
    let key_matches = toleration.key.is_empty() || toleration.key == TAINT_KEY;
    let value_matches = match toleration.operator {
        TolerationOperator::Exists => true,
        TolerationOperator::Equal => toleration.value.is_empty(),
    };
    effect_matches && key_matches && value_matches
}

impl Scheduler for NodeUnschedulable {
    fn new(_config: &str) -> Result<Self, PluginError> {
        Ok(NodeUnschedulable {
            unschedulable: Rows::new("node"),
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FILTER
    }

    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.unschedulable.sync(
            upserts,
            removed,
            |node| node.index,
            |node| node.unschedulable,
        );
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        let tolerated = pod.tolerations.iter().any(tolerates_unschedulable);
        Verdicts::one_reason_each(nodes, |index| {
            let refused = *self.unschedulable.get(index)? && !tolerated;
            Ok(refused.then_some(ERR_REASON))
        })
    }
}

keel_sdk::export_scheduler!(NodeUnschedulable);

#[cfg(test)]
mod tests {
    use super::*;
    use keel_sdk::scheduler::testing::{self, candidates, toleration};

    fn node(index: u32, unschedulable: bool) -> Node {
        Node {
            unschedulable,
            ..testing::node(index, &format!("n{index}"))
        }
    }

    fn pod(tolerations: Vec<Toleration>) -> Pod {
        Pod {
            tolerations,
            ..testing::pod("p")
        }
    }

    fn plugin() -> NodeUnschedulable {
        testing::synced("null", vec![node(0, false), node(1, true)]).expect("config")
    }

    fn codes(tolerations: Vec<Toleration>) -> Vec<u16> {
        plugin()
            .filter(&pod(tolerations), &candidates(&[0, 1]))
            .expect("filter")
            .codes
    }

    // kubernetes.io/docs/concepts/architecture/nodes/#manual-node-administration:
    // a cordoned node takes no new pods; reason "node(s) were unschedulable".
    #[test]
    fn cordoned_node_is_infeasible() {
        let result = plugin()
            .filter(&pod(Vec::new()), &candidates(&[0, 1]))
            .expect("filter");
        assert_eq!(result.codes, vec![0, 1]);
        assert_eq!(
            result.reasons,
            vec![vec!["node(s) were unschedulable".to_string()]]
        );
    }

    // node_unschedulable.go Filter: "If pod tolerate unschedulable taint, it's also tolerate
    // `node.Spec.Unschedulable`": Exists on node.kubernetes.io/unschedulable:NoSchedule.
    #[test]
    fn toleration_exists_admits_cordoned_node() {
        let exists = toleration(
            TAINT_KEY,
            TolerationOperator::Exists,
            "",
            Some(TaintEffect::NoSchedule),
        );
        assert_eq!(codes(vec![exists]), vec![0, 0]);
    }

    // The taint's value is empty, so Equal with an empty value tolerates it; with any effect.
    #[test]
    fn toleration_equal_empty_value_any_effect_admits() {
        let equal = toleration(TAINT_KEY, TolerationOperator::Equal, "", None);
        assert_eq!(codes(vec![equal]), vec![0, 0]);
    }

    // kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/: an empty key
    // with operator Exists tolerates everything.
    #[test]
    fn wildcard_toleration_admits() {
        let wildcard = toleration("", TolerationOperator::Exists, "", None);
        assert_eq!(codes(vec![wildcard]), vec![0, 0]);
    }

    // Tolerations that do not match the taint: another key, another value, another effect.
    #[test]
    fn non_matching_tolerations_do_not_admit() {
        let other_key = toleration("dedicated", TolerationOperator::Exists, "", None);
        let other_value = toleration(TAINT_KEY, TolerationOperator::Equal, "true", None);
        let other_effect = toleration(
            TAINT_KEY,
            TolerationOperator::Exists,
            "",
            Some(TaintEffect::NoExecute),
        );
        let prefer = toleration(
            TAINT_KEY,
            TolerationOperator::Exists,
            "",
            Some(TaintEffect::PreferNoSchedule),
        );
        assert_eq!(
            codes(vec![other_key, other_value, other_effect, prefer]),
            vec![0, 1]
        );
    }

    #[test]
    fn uncordoning_makes_node_feasible() {
        let mut plugin = plugin();
        plugin.sync_nodes(vec![node(1, false)], Vec::new());
        let result = plugin
            .filter(&pod(Vec::new()), &candidates(&[0, 1]))
            .expect("filter");
        assert_eq!(result.codes, vec![0, 0]);
    }

    #[test]
    fn unsynced_and_removed_nodes_are_errors() {
        let mut plugin = plugin();
        assert!(plugin.filter(&pod(Vec::new()), &candidates(&[5])).is_err());
        plugin.sync_nodes(Vec::new(), vec![0]);
        let error = plugin
            .filter(&pod(Vec::new()), &candidates(&[0]))
            .expect_err("removed");
        assert!(error.message.contains("never synced"), "{}", error.message);
    }

    #[test]
    fn declares_filter_only() {
        let capabilities = plugin().capabilities();
        assert!(capabilities.filters && !capabilities.scores);
        assert!(!capabilities.reads_usage && !capabilities.reads_pods);
    }
}
