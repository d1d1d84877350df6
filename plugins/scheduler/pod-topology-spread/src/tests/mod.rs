//! Native tests over the SDK's types.

use keel_sdk::scheduler::testing::{
    self, HOSTNAME as HOST, ZONE, candidates, first_reasons as reasons, labels,
    node_with_labels as node,
};
use keel_sdk::scheduler::{
    Candidates, Capabilities, PlacedPod, PluginError, Pod, PodFields, Scheduler,
};

use crate::PodTopologySpread;
use crate::filter::{CONSTRAINTS_NOT_MATCH, NODE_LABEL_NOT_MATCH};

mod filter;
mod score;

/// [`testing::two_zones`]: n0, n1 in zone a; n2, n3 in zone b; n4 has no zone label.
fn cluster() -> Result<PodTopologySpread, PluginError> {
    testing::synced("null", testing::two_zones())
}

/// A pod to place: index, namespace, labels, node.
type Placement<'a> = (u32, &'a str, &'a [(&'a str, &'a str)], u32);

/// Places pods.
fn place(plugin: &mut PodTopologySpread, pods: &[Placement<'_>]) {
    let upserts = pods
        .iter()
        .map(|&(index, namespace, pairs, node)| PlacedPod {
            namespace: namespace.into(),
            ..testing::placed(index, node, pairs)
        })
        .collect();
    plugin.sync_pods(upserts, vec![]);
}

const FOO: &[(&str, &str)] = &[("app", "foo")];

fn pod(pairs: &[(&str, &str)], spread: Option<&str>) -> Pod {
    Pod {
        labels: labels(pairs),
        topology_spread_json: spread.map(str::to_string),
        ..testing::pod("incoming")
    }
}

fn spread(when: &str, key: &str, extra: &str) -> String {
    format!(
        r#"[{{"maxSkew":1,"topologyKey":"{key}","whenUnsatisfiable":"{when}",
            "labelSelector":{{"matchLabels":{{"app":"foo"}}}}{extra}}}]"#
    )
}

fn all() -> Candidates {
    candidates(&[0, 1, 2, 3, 4])
}

const SKEW: Option<&str> = Some(CONSTRAINTS_NOT_MATCH);
const LABEL: Option<&str> = Some(NODE_LABEL_NOT_MATCH);

#[test]
fn declares_filter_score_and_pods() -> Result<(), PluginError> {
    let Capabilities {
        filters,
        scores,
        reads_usage,
        reads_pods,
        filter_needs,
        score_needs,
    } = cluster()?.capabilities();
    let needs = Some(PodFields::TOPOLOGY_SPREAD);
    assert_eq!((filter_needs, score_needs), (needs, needs));
    assert_eq!(
        (filters, scores, reads_usage, reads_pods),
        (true, true, false, true)
    );
    Ok(())
}

#[test]
fn no_constraints_answer_all_feasible_and_zero_scores() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(&mut plugin, &[(0, "default", FOO, 0)]);
    let soft_only = spread("ScheduleAnyway", ZONE, "");
    for json in [None, Some("null"), Some("[]")] {
        let incoming = pod(FOO, json);
        // No per-node work: candidates are not even looked up.
        let result = plugin.filter(&incoming, &candidates(&[0, 99]))?;
        assert_eq!(result.codes, vec![0, 0]);
        assert!(result.reasons.is_empty());
        assert_eq!(plugin.score(&incoming, &candidates(&[0, 99]))?, vec![0, 0]);
    }
    // ScheduleAnyway constraints never filter.
    let result = plugin.filter(&pod(FOO, Some(&soft_only)), &all())?;
    assert_eq!(result.codes, vec![0; 5]);
    Ok(())
}

#[test]
fn bad_input_is_an_error() -> Result<(), PluginError> {
    let plugin = cluster()?;
    let message = |spread: &str| {
        plugin
            .filter(&pod(FOO, Some(spread)), &all())
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    };
    assert!(message("[").starts_with("bad topologySpreadConstraints JSON"));
    assert!(
        message(&spread("Sometimes", ZONE, "")).starts_with("bad topologySpreadConstraints JSON")
    );
    let zero_skew = spread("DoNotSchedule", ZONE, "").replace(r#""maxSkew":1"#, r#""maxSkew":0"#);
    assert!(message(&zero_skew).contains("maxSkew must be greater than zero"));
    assert!(message(&spread("DoNotSchedule", ZONE, r#","minDomains":0"#)).contains("minDomains"));
    let bad_selector = format!(
        r#"[{{"maxSkew":1,"topologyKey":"{ZONE}","whenUnsatisfiable":"ScheduleAnyway",
            "labelSelector":{{"matchExpressions":[{{"key":"a","operator":"In"}}]}}}}]"#
    );
    let error = plugin
        .score(&pod(FOO, Some(&bad_selector)), &all())
        .err()
        .map(|e| e.message);
    assert!(error.is_some_and(|m| m.contains("values must be non-empty")));

    let mut bad_affinity = pod(FOO, Some(&spread("DoNotSchedule", ZONE, "")));
    bad_affinity.affinity_json = Some("{".into());
    let error = plugin
        .filter(&bad_affinity, &all())
        .err()
        .map(|e| e.message);
    assert!(error.is_some_and(|m| m.starts_with("bad affinity JSON")));

    let constraints = spread("DoNotSchedule", ZONE, "");
    let error = plugin
        .filter(&pod(FOO, Some(&constraints)), &candidates(&[0, 42]))
        .err();
    assert_eq!(
        error.map(|e| e.message).as_deref(),
        Some("node index 42 was never synced")
    );
    Ok(())
}

#[test]
fn configuration_must_be_empty() {
    assert!(PodTopologySpread::from_config("null").is_ok());
    assert!(PodTopologySpread::from_config("{}").is_ok());
    assert!(PodTopologySpread::from_config(r#"{"defaultConstraints":[]}"#).is_err());
}
