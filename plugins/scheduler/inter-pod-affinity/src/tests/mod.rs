//! Native tests over the SDK's types.

use keel_sdk::scheduler::testing::{
    self, HOSTNAME as HOST, ZONE, candidates, first_reasons as reasons, labels,
    node_with_labels as node,
};
use keel_sdk::scheduler::{
    Candidates, Capabilities, PlacedPod, PluginError, Pod, PodFields, Scheduler,
};

use crate::InterPodAffinity;

mod filter;
mod score;

/// [`testing::two_zones`]: n0, n1 in zone a; n2, n3 in zone b; n4 has no zone label.
fn cluster() -> Result<InterPodAffinity, PluginError> {
    testing::synced("null", testing::two_zones())
}

fn placed(
    index: u32,
    namespace: &str,
    pairs: &[(&str, &str)],
    node: u32,
    affinity: Option<&str>,
) -> PlacedPod {
    PlacedPod {
        namespace: namespace.into(),
        affinity_json: affinity.map(str::to_string),
        ..testing::placed(index, node, pairs)
    }
}

fn pod(pairs: &[(&str, &str)], affinity: Option<&str>) -> Pod {
    Pod {
        labels: labels(pairs),
        affinity_json: affinity.map(str::to_string),
        ..testing::pod("incoming")
    }
}

fn all() -> Candidates {
    candidates(&[0, 1, 2, 3, 4])
}

fn required(kind: &str, selector: &str, key: &str) -> String {
    format!(
        r#"{{"{kind}":{{"requiredDuringSchedulingIgnoredDuringExecution":[
            {{"labelSelector":{selector},"topologyKey":"{key}"}}]}}}}"#
    )
}

const WEB: &str = r#"{"matchLabels":{"app":"web"}}"#;
const DB: &str = r#"{"matchLabels":{"app":"db"}}"#;

#[test]
fn declares_filter_score_and_pods() -> Result<(), PluginError> {
    let plugin = cluster()?;
    let Capabilities {
        filters,
        scores,
        reads_usage,
        reads_pods,
        filter_needs,
        score_needs,
    } = plugin.capabilities();
    assert_eq!(
        (filters, scores, reads_usage, reads_pods),
        (true, true, false, true)
    );
    // Skipped only for a pod with no affinity while no placed pod has one.
    let needs = Some(PodFields::AFFINITY | PodFields::PLACED_POD_AFFINITY);
    assert_eq!((filter_needs, score_needs), (needs, needs));
    Ok(())
}

#[test]
fn no_rules_answer_all_feasible_and_zero_scores() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    plugin.sync_pods(
        vec![placed(0, "default", &[("app", "web")], 0, None)],
        vec![],
    );
    // Only node affinity: not this plugin's.
    let affinity = r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
        {"nodeSelectorTerms":[{"matchExpressions":[{"key":"x","operator":"Exists"}]}]}}}"#;
    for json in [None, Some("null"), Some(affinity)] {
        let incoming = pod(&[("app", "web")], json);
        // The fast path does no per-node work: candidates are not even looked up.
        let result = plugin.filter(&incoming, &candidates(&[0, 1, 99]))?;
        assert_eq!(result.codes, vec![0, 0, 0]);
        assert!(result.reasons.is_empty());
        assert_eq!(
            plugin.score(&incoming, &candidates(&[0, 1, 99]))?,
            vec![0, 0, 0]
        );
    }
    Ok(())
}

#[test]
fn a_candidate_never_synced_is_an_error() -> Result<(), PluginError> {
    let plugin = cluster()?;
    let affinity = required("podAntiAffinity", WEB, ZONE);
    let error = plugin
        .filter(
            &pod(&[("app", "web")], Some(&affinity)),
            &candidates(&[0, 42]),
        )
        .err()
        .map(|e| e.message);
    assert_eq!(error.as_deref(), Some("node index 42 was never synced"));
    Ok(())
}

#[test]
fn bad_json_is_an_error() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    let error = plugin
        .filter(&pod(&[], Some("{")), &all())
        .err()
        .map(|e| e.message);
    assert!(error.is_some_and(|m| m.starts_with("bad affinity JSON")));
    let bad_operator = r#"{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
        {"labelSelector":{"matchExpressions":[{"key":"a","operator":"Near"}]},"topologyKey":"z"}]}}"#;
    let error = plugin
        .score(&pod(&[], Some(bad_operator)), &all())
        .err()
        .map(|e| e.message);
    assert!(error.is_some_and(|m| m.contains("\"Near\" is not a valid label selector operator")));

    // A placed pod's bad affinity fails every call until it goes.
    plugin.sync_pods(vec![placed(3, "default", &[], 0, Some("[1"))], vec![]);
    let error = plugin
        .filter(&pod(&[], None), &all())
        .err()
        .map(|e| e.message);
    assert!(error.is_some_and(|m| m.starts_with("placed pod 3: bad affinity JSON")));
    plugin.sync_pods(vec![], vec![3]);
    assert_eq!(plugin.filter(&pod(&[], None), &all())?.codes, vec![0; 5]);
    Ok(())
}

#[test]
fn a_namespace_selector_other_than_everything_is_refused() -> Result<(), PluginError> {
    let plugin = cluster()?;
    let affinity = format!(
        r#"{{"podAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":[
            {{"labelSelector":{DB},"topologyKey":"{ZONE}",
              "namespaceSelector":{{"matchLabels":{{"team":"a"}}}}}}]}}}}"#
    );
    let error = plugin
        .filter(&pod(&[], Some(&affinity)), &all())
        .err()
        .map(|e| e.message);
    assert!(error.is_some_and(|m| m.starts_with("namespaceSelector is not supported")));
    Ok(())
}

#[test]
fn bad_configuration_is_refused() {
    for config in [r#"{"hardPodAffinityWeight":101}"#, r#"{"unknown":1}"#, "["] {
        assert!(InterPodAffinity::from_config(config).is_err(), "{config}");
    }
    assert!(
        InterPodAffinity::from_config(r#"{"ignorePreferredTermsOfExistingPods":true}"#).is_ok()
    );
}
