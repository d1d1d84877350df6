//! The filter: required affinity, anti-affinity and its symmetry.

use super::*;
use crate::filter::{
    AFFINITY_RULES_NOT_MATCH, ANTI_AFFINITY_RULES_NOT_MATCH, EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
};

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity:
// required podAffinity schedules only into a topology domain already running a matching pod.
#[test]
fn affinity_satisfied_in_the_domain_of_a_matching_pod() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    plugin.sync_pods(
        vec![placed(0, "default", &[("app", "db")], 0, None)],
        vec![],
    );
    let affinity = required("podAffinity", DB, ZONE);
    let result = plugin.filter(&pod(&[("app", "web")], Some(&affinity)), &all())?;
    let no = Some(AFFINITY_RULES_NOT_MATCH);
    // n4 has no zone label: it cannot satisfy the term.
    assert_eq!(reasons(&result), vec![None, None, no, no, no]);
    // One reason list, shared by every infeasible node.
    assert_eq!(
        result.reasons,
        vec![vec![AFFINITY_RULES_NOT_MATCH.to_string()]]
    );
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#namespace-selector:
// a term with no namespaces looks in the incoming pod's namespace only.
#[test]
fn affinity_unsatisfied_by_a_pod_in_another_namespace() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    plugin.sync_pods(vec![placed(0, "other", &[("app", "db")], 0, None)], vec![]);
    let affinity = required("podAffinity", DB, ZONE);
    let result = plugin.filter(&pod(&[("app", "web")], Some(&affinity)), &all())?;
    assert!(
        reasons(&result)
            .iter()
            .all(|r| *r == Some(AFFINITY_RULES_NOT_MATCH))
    );

    // Naming the namespace, or `namespaceSelector: {}` (every namespace), finds it.
    for scope in [r#""namespaces":["other"]"#, r#""namespaceSelector":{}"#] {
        let affinity = format!(
            r#"{{"podAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":[
                {{"labelSelector":{DB},"topologyKey":"{ZONE}",{scope}}}]}}}}"#
        );
        let result = plugin.filter(&pod(&[("app", "web")], Some(&affinity)), &all())?;
        let no = Some(AFFINITY_RULES_NOT_MATCH);
        assert_eq!(reasons(&result), vec![None, None, no, no, no], "{scope}");
    }
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
// (kube-scheduler satisfyPodAffinity): the first pod of a group with affinity to itself
// may go to any node that has the topology label.
#[test]
fn first_pod_of_a_group_matching_its_own_affinity_is_allowed() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    plugin.sync_pods(
        vec![placed(0, "default", &[("app", "db")], 0, None)],
        vec![],
    );
    let affinity = required("podAffinity", WEB, ZONE);
    let result = plugin.filter(&pod(&[("app", "web")], Some(&affinity)), &all())?;
    assert_eq!(
        reasons(&result),
        vec![None, None, None, None, Some(AFFINITY_RULES_NOT_MATCH)]
    );

    // A pod that does not match its own term gets no such exception.
    let result = plugin.filter(&pod(&[("app", "api")], Some(&affinity)), &all())?;
    assert!(
        reasons(&result)
            .iter()
            .all(|r| *r == Some(AFFINITY_RULES_NOT_MATCH))
    );
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity:
// required podAntiAffinity keeps the pod out of any domain running a matching pod; a node
// without the topology label is not in any domain.
#[test]
fn anti_affinity_blocks_the_domain_of_a_matching_pod() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    plugin.sync_pods(
        vec![placed(0, "default", &[("app", "web")], 0, None)],
        vec![],
    );
    let affinity = required("podAntiAffinity", WEB, ZONE);
    let result = plugin.filter(&pod(&[("app", "web")], Some(&affinity)), &all())?;
    let no = Some(ANTI_AFFINITY_RULES_NOT_MATCH);
    assert_eq!(reasons(&result), vec![no, no, None, None, None]);

    let by_host = required("podAntiAffinity", WEB, HOST);
    let result = plugin.filter(&pod(&[("app", "web")], Some(&by_host)), &all())?;
    assert_eq!(reasons(&result), vec![no, None, None, None, None]);
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity:
// anti-affinity is symmetric: a placed pod's required anti-affinity keeps matching pods out
// of its domain even when the incoming pod states no rule.
#[test]
fn existing_pods_anti_affinity_is_symmetric() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    let anti = required("podAntiAffinity", WEB, ZONE);
    plugin.sync_pods(
        vec![placed(7, "default", &[("app", "db")], 2, Some(&anti))],
        vec![],
    );
    let result = plugin.filter(&pod(&[("app", "web")], None), &all())?;
    let no = Some(EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
    assert_eq!(reasons(&result), vec![None, None, no, no, None]);

    // A pod it does not match is not kept out.
    let result = plugin.filter(&pod(&[("app", "api")], None), &all())?;
    assert_eq!(result.codes, vec![0; 5]);

    // The term's scope is the placed pod's namespace.
    plugin.sync_pods(
        vec![placed(7, "other", &[("app", "db")], 2, Some(&anti))],
        vec![],
    );
    let result = plugin.filter(&pod(&[("app", "web")], None), &all())?;
    assert_eq!(result.codes, vec![0; 5]);

    // Removing the pod lifts the rule.
    plugin.sync_pods(
        vec![placed(7, "default", &[("app", "db")], 2, Some(&anti))],
        vec![],
    );
    plugin.sync_pods(vec![], vec![7]);
    let result = plugin.filter(&pod(&[("app", "web")], None), &all())?;
    assert_eq!(result.codes, vec![0; 5]);
    Ok(())
}

// kube-scheduler InterPodAffinity Filter: affinity, then anti-affinity, then existing pods'
// anti-affinity; a node reports the first rule it breaks.
#[test]
fn a_node_reports_the_first_rule_it_breaks() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    let anti_web = required("podAntiAffinity", WEB, ZONE);
    plugin.sync_pods(
        vec![
            placed(0, "default", &[("app", "db")], 0, None),
            placed(1, "default", &[("app", "cache")], 1, None),
            placed(2, "default", &[("app", "guard")], 2, Some(&anti_web)),
        ],
        vec![],
    );
    let affinity = format!(
        r#"{{"podAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":[
              {{"labelSelector":{DB},"topologyKey":"{ZONE}"}}]}},
            "podAntiAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":[
              {{"labelSelector":{{"matchLabels":{{"app":"cache"}}}},"topologyKey":"{HOST}"}}]}}}}"#
    );
    let result = plugin.filter(&pod(&[("app", "web")], Some(&affinity)), &all())?;
    assert_eq!(
        reasons(&result),
        vec![
            None,
            Some(ANTI_AFFINITY_RULES_NOT_MATCH),
            Some(AFFINITY_RULES_NOT_MATCH),
            Some(AFFINITY_RULES_NOT_MATCH),
            Some(AFFINITY_RULES_NOT_MATCH),
        ]
    );
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#matchlabelkeys:
// matchLabelKeys narrows the selector to pods sharing the incoming pod's value of the key.
#[test]
fn match_label_keys_narrow_the_term() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    plugin.sync_pods(
        vec![
            placed(0, "default", &[("app", "web"), ("rev", "1")], 0, None),
            placed(1, "default", &[("app", "web"), ("rev", "2")], 2, None),
        ],
        vec![],
    );
    let affinity = format!(
        r#"{{"podAntiAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":[
            {{"labelSelector":{WEB},"topologyKey":"{ZONE}","matchLabelKeys":["rev"]}}]}}}}"#
    );
    let result = plugin.filter(
        &pod(&[("app", "web"), ("rev", "2")], Some(&affinity)),
        &all(),
    )?;
    let no = Some(ANTI_AFFINITY_RULES_NOT_MATCH);
    assert_eq!(reasons(&result), vec![None, None, no, no, None]);
    Ok(())
}
