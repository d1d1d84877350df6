//! Scheduler plugin: Kubernetes' `TaintToleration`, filter and score.
//!
//! Follows kube-scheduler's `tainttoleration` plugin
//! (`pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go`) and the
//! toleration rules of `k8s.io/api/core/v1` `Toleration.ToleratesTaint`:
//! - Filter: a node whose `NoSchedule` or `NoExecute` taints are not all tolerated does not
//!   fit; the reason names the first such taint, `node(s) had untolerated taint {KEY: VALUE}`
//!   (the wording before kubernetes/kubernetes#134740: see [`untolerated_reason`]).
//! - Score: the number of `PreferNoSchedule` taints the pod does not tolerate (counting only
//!   its tolerations whose effect is `PreferNoSchedule` or empty), normalised reversed over
//!   the candidates as `DefaultNormalizeScore(100, reverse = true)`: fewest untolerated taints
//!   score 100.
//!
//! The plugin keeps each node's taints by node index; it reads no usage.

use keel_sdk::scheduler::{
    Candidates, Capabilities, FilterResult, Node, PluginError, Pod, Rows, Scheduler, Taint,
    TaintEffect, Toleration, TolerationOperator, Verdicts,
};

/// The largest score a node can get (`framework.MaxNodeScore`).
pub const MAX_SCORE: u32 = 100;

/// TaintToleration: every node's taints, by node index.
pub struct TaintToleration {
    taints: Rows<Vec<Taint>>,
}

/// Whether `toleration` tolerates `taint` (Kubernetes' `Toleration.ToleratesTaint`): the
/// effect matches or is empty, the key matches or is empty, and the operator is `Exists` or
/// the values are equal.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration
        .effect
        .is_some_and(|effect| effect != taint.effect)
    {
        return false;
    }
    if !toleration.key.is_empty() && toleration.key != taint.key {
        return false;
    }
    match toleration.operator {
        TolerationOperator::Exists => true,
        TolerationOperator::Equal => toleration.value == taint.value,
    }
}

/// The reason a node with `taint` untolerated does not fit, as kube-scheduler worded it until
/// kubernetes/kubernetes#134740 (`fmt.Sprintf("node(s) had untolerated taint {%s: %s}",
/// taint.Key, taint.Value)`). That change (merged October 2025, cherry-picked to release-1.34)
/// reports the generic "node(s) had untolerated taint(s)" instead, to keep taint values out of
/// pod statuses; Keel keeps the detailed wording.
pub fn untolerated_reason(taint: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key, taint.value
    )
}

/// The first `NoSchedule` or `NoExecute` taint no toleration tolerates
/// (`v1helper.FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`).
fn first_untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|taint| taint.effect != TaintEffect::PreferNoSchedule)
        .find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
}

/// How many `PreferNoSchedule` taints none of `tolerations` tolerates
/// (`countIntolerableTaintsPreferNoSchedule`).
fn count_untolerated_preferred(taints: &[Taint], tolerations: &[&Toleration]) -> u64 {
    let untolerated = taints
        .iter()
        .filter(|taint| taint.effect == TaintEffect::PreferNoSchedule)
        .filter(|taint| !tolerations.iter().any(|t| tolerates(t, taint)));
    untolerated.count() as u64
}

/// `DefaultNormalizeScore(MaxNodeScore, reverse = true, counts)`: `100 - count * 100 / max`,
/// or 100 for every node when no node has a count.
fn normalize_reversed(counts: &[u64]) -> Vec<u32> {
    let max = counts.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return vec![MAX_SCORE; counts.len()];
    }
    counts
        .iter()
        .map(|&count| MAX_SCORE - (u64::from(MAX_SCORE) * count / max) as u32)
        .collect()
}

impl Scheduler for TaintToleration {
    fn new(_config: &str) -> Result<Self, PluginError> {
        Ok(TaintToleration {
            taints: Rows::new("node"),
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FILTER.scoring()
    }

    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.taints
            .sync(upserts, removed, |node| node.index, |node| node.taints);
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        Verdicts::one_reason_each(nodes, |index| {
            let taints = self.taints.get(index)?;
            Ok(first_untolerated(taints, &pod.tolerations).map(untolerated_reason))
        })
    }

    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        // getAllTolerationPreferNoSchedule: an empty effect means every effect.
        let tolerations: Vec<&Toleration> = pod
            .tolerations
            .iter()
            .filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule))
            .collect();
        let counts = nodes
            .index
            .iter()
            .map(|&index| {
                Ok(count_untolerated_preferred(
                    self.taints.get(index)?,
                    &tolerations,
                ))
            })
            .collect::<Result<Vec<u64>, PluginError>>()?;
        Ok(normalize_reversed(&counts))
    }
}

keel_sdk::export_scheduler!(TaintToleration);

#[cfg(test)]
mod tests {
    use super::*;
    use keel_sdk::scheduler::testing::{self, taint, toleration};

    use TaintEffect::{NoExecute, NoSchedule, PreferNoSchedule};
    use TolerationOperator::{Equal, Exists};

    fn node(index: u32, taints: Vec<Taint>) -> Node {
        Node {
            taints,
            ..testing::node(index, &format!("n{index}"))
        }
    }

    fn pod(tolerations: Vec<Toleration>) -> Pod {
        Pod {
            tolerations,
            ..testing::pod("p")
        }
    }

    /// Candidates `0..n`.
    fn candidates(n: u32) -> Candidates {
        testing::candidates(&(0..n).collect::<Vec<_>>())
    }

    fn plugin(nodes: Vec<Vec<Taint>>) -> TaintToleration {
        let nodes = (0u32..).zip(nodes).map(|(i, t)| node(i, t)).collect();
        testing::synced("null", nodes).expect("config")
    }

    fn filter(nodes: Vec<Vec<Taint>>, tolerations: Vec<Toleration>) -> FilterResult {
        let n = nodes.len() as u32;
        plugin(nodes)
            .filter(&pod(tolerations), &candidates(n))
            .expect("filter")
    }

    fn score(nodes: Vec<Vec<Taint>>, tolerations: Vec<Toleration>) -> Vec<u32> {
        let n = nodes.len() as u32;
        plugin(nodes)
            .score(&pod(tolerations), &candidates(n))
            .expect("score")
    }

    // kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/: a NoSchedule
    // taint the pod does not tolerate keeps it off the node; reason names the taint.
    #[test]
    fn untolerated_no_schedule_taint_is_infeasible() {
        let result = filter(
            vec![vec![], vec![taint("dedicated", "gpu", NoSchedule)]],
            vec![],
        );
        assert_eq!(result.codes, vec![0, 1]);
        assert_eq!(
            result.reasons,
            vec![vec![
                "node(s) had untolerated taint {dedicated: gpu}".to_string()
            ]]
        );
    }

    // DoNotScheduleTaintsFilterFunc: NoExecute taints filter too; PreferNoSchedule ones do not
    // (TestTaintTolerationFilter "The pod has no toleration, but the effect of taint on node is
    // PreferNoSchedule. Pod can be scheduled onto the node").
    #[test]
    fn no_execute_filters_prefer_no_schedule_does_not() {
        let result = filter(
            vec![
                vec![taint("k", "v", NoExecute)],
                vec![taint("k", "v", PreferNoSchedule)],
            ],
            vec![],
        );
        assert_eq!(result.codes, vec![1, 0]);
        assert_eq!(
            result.reasons,
            vec![vec!["node(s) had untolerated taint {k: v}".to_string()]]
        );
    }

    // The reason names the first untolerated taint; nodes sharing it share one reason.
    #[test]
    fn reason_names_first_untolerated_taint() {
        let result = filter(
            vec![
                vec![taint("a", "1", NoSchedule), taint("b", "2", NoSchedule)],
                vec![taint("a", "1", NoSchedule), taint("b", "2", NoSchedule)],
                vec![taint("b", "2", NoSchedule)],
            ],
            vec![toleration("a", Equal, "1", None)],
        );
        assert_eq!(result.codes, vec![1, 1, 1]);
        assert_eq!(
            result.reasons,
            vec![vec!["node(s) had untolerated taint {b: 2}".to_string()]]
        );
        let result = filter(
            vec![vec![
                taint("a", "1", NoSchedule),
                taint("b", "2", NoSchedule),
            ]],
            vec![],
        );
        assert_eq!(
            result.reasons,
            vec![vec!["node(s) had untolerated taint {a: 1}".to_string()]]
        );
    }

    // kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/: operator Equal
    // matches key, value and effect (TestTaintTolerationFilter "A pod has a toleration that keys
    // and values match the taint on the node, but (non-empty) effect doesn't match, can't be
    // scheduled onto the node").
    #[test]
    fn equal_toleration_matches_key_value_effect() {
        let nodes = || vec![vec![taint("dedicated", "gpu", NoSchedule)]];
        let matching = toleration("dedicated", Equal, "gpu", Some(NoSchedule));
        assert_eq!(filter(nodes(), vec![matching]).codes, vec![0]);
        let other_value = toleration("dedicated", Equal, "cpu", Some(NoSchedule));
        assert_eq!(filter(nodes(), vec![other_value]).codes, vec![1]);
        let other_key = toleration("team", Equal, "gpu", Some(NoSchedule));
        assert_eq!(filter(nodes(), vec![other_key]).codes, vec![1]);
        let other_effect = toleration("dedicated", Equal, "gpu", Some(NoExecute));
        assert_eq!(filter(nodes(), vec![other_effect]).codes, vec![1]);
    }

    // kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/: operator Exists
    // needs no value; an empty effect matches every effect.
    #[test]
    fn exists_toleration_ignores_value_and_empty_effect_matches_all() {
        let nodes = || {
            vec![vec![
                taint("dedicated", "gpu", NoSchedule),
                taint("dedicated", "other", NoExecute),
            ]]
        };
        let exists = toleration("dedicated", Exists, "", None);
        assert_eq!(filter(nodes(), vec![exists]).codes, vec![0]);
        let exists_no_schedule = toleration("dedicated", Exists, "", Some(NoSchedule));
        let result = filter(nodes(), vec![exists_no_schedule]);
        assert_eq!(result.codes, vec![1]);
        assert_eq!(
            result.reasons,
            vec![vec![
                "node(s) had untolerated taint {dedicated: other}".to_string()
            ]]
        );
    }

    // kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/: "An empty key
    // with operator Exists matches all keys, values and effects which means this will tolerate
    // everything."
    #[test]
    fn empty_key_exists_tolerates_everything() {
        let everything = toleration("", Exists, "", None);
        let result = filter(
            vec![vec![
                taint("a", "1", NoSchedule),
                taint("b", "", NoExecute),
                taint("c", "3", PreferNoSchedule),
            ]],
            vec![everything],
        );
        assert_eq!(result.codes, vec![0]);
    }

    // TestTaintTolerationFilter "A pod which can be scheduled on a dedicated node assigned to
    // user1 with effect NoSchedule"; a node without taints always fits.
    #[test]
    fn tolerated_taints_are_feasible() {
        let result = filter(
            vec![vec![], vec![taint("foo", "bar", NoSchedule)]],
            vec![toleration("foo", Equal, "bar", Some(NoSchedule))],
        );
        assert_eq!(result.codes, vec![0, 0]);
        assert!(result.reasons.is_empty());
    }

    // TestTaintTolerationScore "the more intolerable taints a node has, the lower score it
    // gets.": counts 0, 1, 2 score 100, 50, 0.
    #[test]
    fn score_is_reversed_normalised_count() {
        let scores = score(
            vec![
                vec![],
                vec![taint("a", "1", PreferNoSchedule)],
                vec![
                    taint("a", "1", PreferNoSchedule),
                    taint("b", "2", PreferNoSchedule),
                ],
            ],
            vec![],
        );
        assert_eq!(scores, vec![100, 50, 0]);
    }

    // Integer arithmetic as DefaultNormalizeScore: 100 - 1 * 100 / 3 = 67.
    #[test]
    fn score_rounds_like_kubernetes() {
        let three = vec![
            taint("a", "", PreferNoSchedule),
            taint("b", "", PreferNoSchedule),
            taint("c", "", PreferNoSchedule),
        ];
        let scores = score(vec![three, vec![taint("a", "", PreferNoSchedule)]], vec![]);
        assert_eq!(scores, vec![0, 67]);
    }

    // TestTaintTolerationScore "the nodes that all of their taints are tolerated by the pod,
    // get the same score, no matter how many tolerable taints a node has": every node 100.
    #[test]
    fn score_all_tolerated_is_all_max() {
        let scores = score(
            vec![vec![], vec![taint("a", "1", PreferNoSchedule)]],
            vec![toleration("a", Equal, "1", Some(PreferNoSchedule))],
        );
        assert_eq!(scores, vec![100, 100]);
    }

    // TestTaintTolerationScore "only taints and tolerations that have effect PreferNoSchedule
    // are checked by taints-tolerations priority function"; a toleration with an empty effect
    // counts too (getAllTolerationPreferNoSchedule).
    #[test]
    fn score_considers_only_prefer_no_schedule() {
        let nodes = || {
            vec![
                vec![taint("a", "1", PreferNoSchedule)],
                vec![taint("b", "2", NoSchedule)],
            ]
        };
        let no_schedule_toleration = toleration("a", Exists, "", Some(NoSchedule));
        assert_eq!(score(nodes(), vec![no_schedule_toleration]), vec![0, 100]);
        let any_effect = toleration("a", Exists, "", None);
        assert_eq!(score(nodes(), vec![any_effect]), vec![100, 100]);
    }

    #[test]
    fn unsynced_and_removed_nodes_are_errors() {
        let mut plugin = plugin(vec![vec![], vec![]]);
        plugin.sync_nodes(Vec::new(), vec![1]);
        assert!(plugin.filter(&pod(vec![]), &candidates(2)).is_err());
        let error = plugin
            .score(&pod(vec![]), &candidates(2))
            .expect_err("removed");
        assert!(error.message.contains("node index 1"), "{}", error.message);
        assert!(plugin.score(&pod(vec![]), &candidates(1)).is_ok());
    }

    #[test]
    fn declares_filter_and_score_without_usage() {
        let capabilities = plugin(vec![]).capabilities();
        assert!(capabilities.filters && capabilities.scores);
        assert!(!capabilities.reads_usage && !capabilities.reads_pods);
    }
}
