//! NodeAffinity's tests: nodeSelector, required terms with every operator and matchFields,
//! preferred terms and their normalised score, addedAffinity, and bad input.

use super::*;
use keel_sdk::scheduler::testing::{self, labels, node_with_labels as node};
use serde_json::{Value, json};

fn pod(node_selector: &[(&str, &str)], affinity: Option<String>) -> Pod {
    Pod {
        node_selector: labels(node_selector),
        affinity_json: affinity,
        ..testing::pod("p")
    }
}

/// Candidates `0..n`.
fn candidates(n: u32) -> Candidates {
    testing::candidates(&(0..n).collect::<Vec<_>>())
}

/// n0 {zone: a, disktype: ssd, cores: 8}, n1 {zone: b, cores: 16},
/// n2 {zone: c, gpu: true, cores: many}, n3 {}.
fn plugin_with(config: &str) -> NodeAffinity {
    let nodes = vec![
        node(0, &[("zone", "a"), ("disktype", "ssd"), ("cores", "8")]),
        node(1, &[("zone", "b"), ("cores", "16")]),
        node(2, &[("zone", "c"), ("gpu", "true"), ("cores", "many")]),
        node(3, &[]),
    ];
    testing::synced(config, nodes).expect("config")
}

fn plugin() -> NodeAffinity {
    plugin_with("null")
}

fn expr(key: &str, operator: &str, values: &[&str]) -> Value {
    json!({"key": key, "operator": operator, "values": values})
}

fn term(expressions: Vec<Value>) -> Value {
    json!({ "matchExpressions": expressions })
}

fn fields(requirements: Vec<Value>) -> Value {
    json!({ "matchFields": requirements })
}

fn required(terms: Vec<Value>) -> Option<String> {
    let affinity = json!({"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
    }});
    Some(affinity.to_string())
}

fn preferred(terms: Vec<(i64, Value)>) -> Option<String> {
    let terms: Vec<Value> = terms
        .into_iter()
        .map(|(weight, preference)| json!({"weight": weight, "preference": preference}))
        .collect();
    let affinity =
        json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": terms}});
    Some(affinity.to_string())
}

/// Which of the four nodes fit `pod`.
fn feasible(plugin: &NodeAffinity, pod: &Pod) -> Vec<bool> {
    let result = plugin.filter(pod, &candidates(4)).expect("filter");
    result.codes.iter().map(|&code| code == 0).collect()
}

fn feasible_required(terms: Vec<Value>) -> Vec<bool> {
    feasible(&plugin(), &pod(&[], required(terms)))
}

const T: bool = true;
const F: bool = false;

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/: a pod with neither
// nodeSelector nor node affinity fits every node.
#[test]
fn unconstrained_pod_fits_every_node() {
    assert_eq!(feasible(&plugin(), &pod(&[], None)), vec![T, T, T, T]);
    let no_node_affinity = json!({"podAffinity": {}}).to_string();
    assert_eq!(
        feasible(&plugin(), &pod(&[], Some(no_node_affinity))),
        vec![T, T, T, T]
    );
    let preferred_only = preferred(vec![(1, term(vec![expr("zone", "In", &["a"])]))]);
    assert_eq!(
        feasible(&plugin(), &pod(&[], preferred_only)),
        vec![T, T, T, T]
    );
    assert_eq!(
        feasible(&plugin(), &pod(&[], Some("null".to_string()))),
        vec![T, T, T, T]
    );
}

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector: "Kubernetes
// only schedules the Pod onto nodes that have each of the labels you specify."
#[test]
fn node_selector_needs_every_label() {
    let result = plugin()
        .filter(&pod(&[("disktype", "ssd")], None), &candidates(4))
        .expect("filter");
    assert_eq!(result.codes, vec![0, 1, 1, 1]);
    assert_eq!(
        result.reasons,
        vec![vec![
            "node(s) didn't match Pod's node affinity/selector".to_string()
        ]]
    );
    let both = pod(&[("zone", "a"), ("disktype", "hdd")], None);
    assert_eq!(feasible(&plugin(), &both), vec![F, F, F, F]);
}

// assign-pod-node/#node-affinity operators: In matches a label whose value is listed.
#[test]
fn operator_in() {
    let terms = vec![term(vec![expr("zone", "In", &["a", "b"])])];
    assert_eq!(feasible_required(terms), vec![T, T, F, F]);
}

// NotIn matches a node without the label, or whose value is not listed.
#[test]
fn operator_not_in() {
    let terms = vec![term(vec![expr("zone", "NotIn", &["a"])])];
    assert_eq!(feasible_required(terms), vec![F, T, T, T]);
}

// Exists matches a node with the label, whatever its value.
#[test]
fn operator_exists() {
    let terms = vec![term(vec![expr("gpu", "Exists", &[])])];
    assert_eq!(feasible_required(terms), vec![F, F, T, F]);
}

// DoesNotExist matches a node without the label.
#[test]
fn operator_does_not_exist() {
    let terms = vec![term(vec![expr("gpu", "DoesNotExist", &[])])];
    assert_eq!(feasible_required(terms), vec![T, T, F, T]);
}

// Gt compares the label value as an integer; a value that is not one ("many") or a missing
// label does not match.
#[test]
fn operator_gt() {
    let terms = vec![term(vec![expr("cores", "Gt", &["10"])])];
    assert_eq!(feasible_required(terms), vec![F, T, F, F]);
}

// Lt likewise; 8 < 10, 16 is not.
#[test]
fn operator_lt() {
    let terms = vec![term(vec![expr("cores", "Lt", &["10"])])];
    assert_eq!(feasible_required(terms), vec![T, F, F, F]);
    let negative = vec![term(vec![expr("cores", "Gt", &["-1"])])];
    assert_eq!(feasible_required(negative), vec![T, T, F, F]);
}

// labels.NewRequirement: Gt/Lt need one integer, In/NotIn values, Exists/DoesNotExist none;
// an unknown operator is refused. A required term that does not parse matches nothing
// (LazyErrorNodeSelector), while the other terms still count.
#[test]
fn invalid_required_terms_match_nothing() {
    let valid = || term(vec![expr("zone", "In", &["b"])]);
    for invalid in [
        expr("cores", "Gt", &["ten"]),
        expr("cores", "Lt", &["1", "2"]),
        expr("zone", "In", &[]),
        expr("zone", "NotIn", &[]),
        expr("zone", "Exists", &["a"]),
        expr("zone", "Equals", &["a"]),
    ] {
        let terms = vec![term(vec![invalid.clone()]), valid()];
        assert_eq!(feasible_required(terms), vec![F, T, F, F], "{invalid}");
    }
}

// assign-pod-node/#node-affinity: "If you specify multiple terms in nodeSelectorTerms
// associated with nodeAffinity types, then the Pod can be scheduled onto a node if one of
// the specified terms can be satisfied (terms are ORed)."
#[test]
fn terms_are_ored() {
    let terms = vec![
        term(vec![expr("zone", "In", &["a"])]),
        term(vec![expr("gpu", "Exists", &[])]),
    ];
    assert_eq!(feasible_required(terms), vec![T, F, T, F]);
}

// "If you specify multiple expressions in a single matchExpressions field associated with a
// term in nodeSelectorTerms, then the Pod can be scheduled onto a node only if all the
// expressions are satisfied (expressions are ANDed)."
#[test]
fn expressions_are_anded() {
    let terms = vec![term(vec![
        expr("zone", "In", &["a", "b", "c"]),
        expr("cores", "Gt", &["8"]),
    ])];
    assert_eq!(feasible_required(terms), vec![F, T, F, F]);
}

// matchFields selects by node field; metadata.name is the node's name (In and NotIn, one
// value each), ANDed with the term's matchExpressions.
#[test]
fn match_fields_metadata_name() {
    let name_in = vec![fields(vec![expr("metadata.name", "In", &["n1"])])];
    assert_eq!(feasible_required(name_in), vec![F, T, F, F]);
    let name_not_in = vec![fields(vec![expr("metadata.name", "NotIn", &["n1"])])];
    assert_eq!(feasible_required(name_not_in), vec![T, F, T, T]);
    let anded = json!({
        "matchExpressions": [expr("zone", "In", &["a"])],
        "matchFields": [expr("metadata.name", "In", &["n1"])],
    });
    assert_eq!(feasible_required(vec![anded]), vec![F, F, F, F]);
}

// nodeSelectorRequirementsAsFieldSelector: matchFields take In or NotIn with exactly one
// value; a term breaking that matches nothing.
#[test]
fn invalid_match_fields_match_nothing() {
    for invalid in [
        expr("metadata.name", "In", &["n0", "n1"]),
        expr("metadata.name", "Exists", &[]),
    ] {
        let terms = vec![fields(vec![invalid.clone()])];
        assert_eq!(feasible_required(terms), vec![F, F, F, F], "{invalid}");
    }
}

// v1.NodeSelector: "The terms are ORed"; an empty list, and an empty term ("A null or empty
// node selector term matches no objects"), select nothing.
#[test]
fn empty_terms_match_nothing() {
    assert_eq!(feasible_required(vec![]), vec![F, F, F, F]);
    assert_eq!(feasible_required(vec![json!({})]), vec![F, F, F, F]);
    let empty_expressions = json!({"matchExpressions": [], "matchFields": null});
    assert_eq!(feasible_required(vec![empty_expressions]), vec![F, F, F, F]);
    let with_valid = vec![json!({}), term(vec![expr("zone", "In", &["a"])])];
    assert_eq!(feasible_required(with_valid), vec![T, F, F, F]);
}

// assign-pod-node/#node-affinity: "If you specify both nodeSelector and nodeAffinity, both
// must be satisfied for the Pod to be scheduled onto a node."
#[test]
fn node_selector_and_affinity_both_apply() {
    let affinity = required(vec![term(vec![expr("cores", "Exists", &[])])]);
    let both = pod(&[("zone", "b")], affinity);
    assert_eq!(feasible(&plugin(), &both), vec![F, T, F, F]);
}

// A pod's spec.affinity that is not JSON, or not an affinity, is an error naming the field.
#[test]
fn bad_affinity_json_is_an_error() {
    let mistyped = json!({"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": "zone=a"}
    }});
    let bad_weight = json!({"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": "heavy"}]
    }});
    for json in ["{", "[]", &mistyped.to_string(), &bad_weight.to_string()] {
        let pod = pod(&[], Some(json.to_string()));
        let error = plugin().filter(&pod, &candidates(4)).expect_err(json);
        assert!(error.message.contains("spec.affinity"), "{}", error.message);
        let error = plugin().score(&pod, &candidates(4)).expect_err(json);
        assert!(error.message.contains("spec.affinity"), "{}", error.message);
    }
}

// assign-pod-node/#node-affinity-weight: each node scores the sum of the weights of the
// preferred terms it matches; NormalizeScore scales the best to 100.
#[test]
fn score_sums_weights_and_normalises() {
    let affinity = preferred(vec![
        (10, term(vec![expr("zone", "In", &["a"])])),
        (30, term(vec![expr("zone", "In", &["a", "b"])])),
        (20, term(vec![expr("gpu", "Exists", &[])])),
    ]);
    let scores = plugin()
        .score(&pod(&[], affinity), &candidates(4))
        .expect("score");
    // Raw 40, 30, 20, 0.
    assert_eq!(scores, vec![100, 75, 50, 0]);
}

// DefaultNormalizeScore truncates: raw 1 and 3 give 33 and 100.
#[test]
fn score_normalisation_truncates() {
    let affinity = preferred(vec![
        (1, term(vec![expr("zone", "In", &["a", "b"])])),
        (2, term(vec![expr("zone", "In", &["b"])])),
    ]);
    let scores = plugin()
        .score(&pod(&[], affinity), &candidates(4))
        .expect("score");
    assert_eq!(scores, vec![33, 100, 0, 0]);
}

// No preferred term matching (or none at all) leaves every node at 0; a 0-weight term and an
// empty preference are skipped (NewPreferredSchedulingTerms).
#[test]
fn score_without_matches_is_zero() {
    let nothing = preferred(vec![(5, term(vec![expr("zone", "In", &["z"])]))]);
    let skipped = preferred(vec![
        (0, term(vec![expr("zone", "In", &["a"])])),
        (7, json!({})),
    ]);
    for affinity in [None, nothing, skipped] {
        let scores = plugin()
            .score(&pod(&[], affinity.clone()), &candidates(4))
            .expect("score");
        assert_eq!(scores, vec![0, 0, 0, 0], "{affinity:?}");
    }
}

// A preferred term that does not parse fails PreScore: an error naming the term.
#[test]
fn invalid_preferred_term_is_an_error() {
    let affinity = preferred(vec![(1, term(vec![expr("cores", "Gt", &["ten"])]))]);
    let error = plugin()
        .score(&pod(&[], affinity), &candidates(4))
        .expect_err("invalid term");
    assert!(
        error.message.contains(
            "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0]"
        ),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("must be an integer"),
        "{}",
        error.message
    );
}

fn added_affinity(node_affinity: Value) -> String {
    json!({ "addedAffinity": node_affinity }).to_string()
}

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity-per-scheduling-profile:
// addedAffinity's required terms apply to every pod, ANDed with its own; a node failing them
// is refused as "scheduler-enforced".
#[test]
fn added_required_affinity_is_enforced() {
    let config = added_affinity(json!({
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [term(vec![expr("zone", "In", &["a", "b"])])]
        }
    }));
    let plugin = plugin_with(&config);
    let result = plugin
        .filter(&pod(&[("disktype", "ssd")], None), &candidates(4))
        .expect("filter");
    assert_eq!(result.codes, vec![0, 1, 2, 2]);
    assert_eq!(
        result.reasons,
        vec![
            vec!["node(s) didn't match Pod's node affinity/selector".to_string()],
            vec!["node(s) didn't match scheduler-enforced node affinity".to_string()],
        ]
    );
    assert_eq!(feasible(&plugin, &pod(&[], None)), vec![T, T, F, F]);
}

// addedAffinity's preferred terms add to every pod's before normalising.
#[test]
fn added_preferred_affinity_adds_to_score() {
    let config = added_affinity(json!({
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "preference": term(vec![expr("gpu", "Exists", &[])])}
        ]
    }));
    let plugin = plugin_with(&config);
    let scores = plugin
        .score(&pod(&[], None), &candidates(4))
        .expect("score");
    assert_eq!(scores, vec![0, 0, 100, 0]);
    let affinity = preferred(vec![(50, term(vec![expr("zone", "In", &["a", "c"])]))]);
    let scores = plugin
        .score(&pod(&[], affinity), &candidates(4))
        .expect("score");
    // Raw 50, 0, 100, 0.
    assert_eq!(scores, vec![50, 0, 100, 0]);
}

// ValidateNodeAffinityArgs: added terms that do not parse, unknown fields and malformed
// JSON are refused when the plugin is built.
#[test]
fn bad_configuration_is_refused() {
    let bad_required = added_affinity(json!({
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [term(vec![expr("zone", "Near", &["a"])])]
        }
    }));
    let bad_preferred = added_affinity(json!({
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "preference": fields(vec![expr("metadata.name", "In", &[])])}
        ]
    }));
    for (config, expected) in [
        (
            bad_required.as_str(),
            "addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
        ),
        (
            bad_preferred.as_str(),
            "addedAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchFields[0].values",
        ),
        (r#"{"addedAffinities": {}}"#, "unknown field"),
        (r#"{"addedAffinity": []}"#, "bad configuration"),
        ("{", "bad configuration"),
    ] {
        let error = <NodeAffinity as Scheduler>::new(config)
            .err()
            .unwrap_or_else(|| panic!("{config} was accepted"));
        assert!(
            error.message.contains(expected),
            "{config}: {}",
            error.message
        );
    }
    assert!(<NodeAffinity as Scheduler>::new("{}").is_ok());
    assert!(<NodeAffinity as Scheduler>::new(r#"{"addedAffinity": null}"#).is_ok());
}

// A label change reaches the plugin through sync_nodes.
#[test]
fn label_updates_change_the_outcome() {
    let mut plugin = plugin();
    let pod = pod(&[("disktype", "ssd")], None);
    assert_eq!(feasible(&plugin, &pod), vec![T, F, F, F]);
    plugin.sync_nodes(vec![node(3, &[("disktype", "ssd")])], Vec::new());
    assert_eq!(feasible(&plugin, &pod), vec![T, F, F, T]);
}

#[test]
fn unsynced_and_removed_nodes_are_errors() {
    let mut plugin = plugin();
    plugin.sync_nodes(Vec::new(), vec![2]);
    let error = plugin
        .filter(&pod(&[], None), &candidates(4))
        .expect_err("removed");
    assert!(error.message.contains("node index 2"), "{}", error.message);
    assert!(plugin.score(&pod(&[], None), &candidates(4)).is_err());
    assert!(plugin.filter(&pod(&[], None), &candidates(2)).is_ok());
}

#[test]
fn declares_filter_and_score_without_usage() {
    let capabilities = plugin().capabilities();
    assert!(capabilities.filters && capabilities.scores);
    assert!(!capabilities.reads_usage && !capabilities.reads_pods);
}
