//! The filter: DoNotSchedule constraints.

use super::*;
use keel_sdk::scheduler::TaintEffect;
use keel_sdk::scheduler::testing::taint;

// kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#example-one-topologyspreadconstraint:
// zone A holds 2 matching pods and zone B 1; with maxSkew 1 the incoming pod can only go to
// zone B (zone A would make the skew 3 - 1 = 2). A node without the zone label is refused.
#[test]
fn max_skew_one_over_zones() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(
        &mut plugin,
        &[
            (0, "default", FOO, 0),
            (1, "default", FOO, 1),
            (2, "default", FOO, 2),
        ],
    );
    let constraints = spread("DoNotSchedule", ZONE, "");
    let result = plugin.filter(&pod(FOO, Some(&constraints)), &all())?;
    assert_eq!(reasons(&result), vec![SKEW, SKEW, None, None, LABEL]);
    assert_eq!(
        result.reasons,
        vec![
            vec![CONSTRAINTS_NOT_MATCH.to_string()],
            vec![NODE_LABEL_NOT_MATCH.to_string()]
        ]
    );

    // A pod the selector does not match does not add to the skew: 2 + 0 - 1 <= 1.
    let result = plugin.filter(&pod(&[("app", "bar")], Some(&constraints)), &all())?;
    assert_eq!(reasons(&result), vec![None, None, None, None, LABEL]);
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition:
// pods are counted in the incoming pod's namespace, as the label selector matches them.
#[test]
fn only_matching_pods_in_the_namespace_count() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(
        &mut plugin,
        &[
            (0, "default", FOO, 0),
            (1, "other", FOO, 2),
            (2, "other", FOO, 3),
            (3, "default", &[("app", "bar")], 2),
        ],
    );
    let constraints = spread("DoNotSchedule", ZONE, "");
    let result = plugin.filter(&pod(FOO, Some(&constraints)), &all())?;
    // Zone a 1, zone b 0: zone a would reach skew 2.
    assert_eq!(reasons(&result), vec![SKEW, SKEW, None, None, LABEL]);
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition:
// with fewer eligible domains than minDomains the global minimum is 0.
#[test]
fn min_domains_makes_the_global_minimum_zero() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(
        &mut plugin,
        &[(0, "default", FOO, 0), (1, "default", FOO, 2)],
    );
    let without = spread("DoNotSchedule", ZONE, "");
    let result = plugin.filter(&pod(FOO, Some(&without)), &all())?;
    assert_eq!(reasons(&result), vec![None, None, None, None, LABEL]);

    // Two domains, minDomains 3: 1 + 1 - 0 > 1 everywhere.
    let with = spread("DoNotSchedule", ZONE, r#","minDomains":3"#);
    let result = plugin.filter(&pod(FOO, Some(&with)), &all())?;
    assert_eq!(reasons(&result), vec![SKEW, SKEW, SKEW, SKEW, LABEL]);

    // minDomains 2 is met: the minimum is the counts' least again.
    let met = spread("DoNotSchedule", ZONE, r#","minDomains":2"#);
    let result = plugin.filter(&pod(FOO, Some(&met)), &all())?;
    assert_eq!(reasons(&result), vec![None, None, None, None, LABEL]);
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition:
// matchLabelKeys adds `key in (the incoming pod's value)` to the selector, so pods of
// another revision do not count.
#[test]
fn match_label_keys_count_only_the_same_revision() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    let rev1: &[(&str, &str)] = &[("app", "foo"), ("pod-template-hash", "1")];
    let rev2: &[(&str, &str)] = &[("app", "foo"), ("pod-template-hash", "2")];
    place(
        &mut plugin,
        &[
            (0, "default", rev1, 0),
            (1, "default", rev1, 1),
            (2, "default", rev2, 2),
        ],
    );
    let plain = spread("DoNotSchedule", ZONE, "");
    let result = plugin.filter(&pod(rev2, Some(&plain)), &all())?;
    assert_eq!(reasons(&result), vec![SKEW, SKEW, None, None, LABEL]);

    let keyed = spread(
        "DoNotSchedule",
        ZONE,
        r#","matchLabelKeys":["pod-template-hash"]"#,
    );
    let result = plugin.filter(&pod(rev2, Some(&keyed)), &all())?;
    // Revision 2 only: zone a 0, zone b 1.
    assert_eq!(reasons(&result), vec![None, None, SKEW, SKEW, LABEL]);
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition:
// nodeAffinityPolicy Honor (the default) counts only nodes matching the pod's nodeSelector
// and required node affinity as domains; Ignore counts every node.
#[test]
fn node_affinity_policy_limits_the_domains() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(
        &mut plugin,
        &[(0, "default", FOO, 0), (1, "default", FOO, 1)],
    );
    let honor = spread("DoNotSchedule", ZONE, "");
    let ignore = spread("DoNotSchedule", ZONE, r#","nodeAffinityPolicy":"Ignore""#);

    let mut selected = pod(FOO, Some(&honor));
    selected.node_selector = labels(&[(ZONE, "a")]);
    // Only zone a is a domain: 2 + 1 - 2 <= 1.
    let result = plugin.filter(&selected, &candidates(&[0, 1]))?;
    assert_eq!(reasons(&result), vec![None, None]);
    selected.topology_spread_json = Some(ignore.clone());
    let result = plugin.filter(&selected, &candidates(&[0, 1]))?;
    assert_eq!(reasons(&result), vec![SKEW, SKEW]);

    // The same through required node affinity.
    let mut affine = pod(FOO, Some(&honor));
    affine.affinity_json = Some(format!(
        r#"{{"nodeAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":{{"nodeSelectorTerms":[
            {{"matchExpressions":[{{"key":"{ZONE}","operator":"In","values":["a"]}}]}}]}}}}}}"#
    ));
    let result = plugin.filter(&affine, &candidates(&[0, 1]))?;
    assert_eq!(reasons(&result), vec![None, None]);
    affine.topology_spread_json = Some(ignore);
    let result = plugin.filter(&affine, &candidates(&[0, 1]))?;
    assert_eq!(reasons(&result), vec![SKEW, SKEW]);
    Ok(())
}

// kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition:
// nodeTaintsPolicy Honor leaves out nodes with taints the pod does not tolerate.
#[test]
fn node_taints_policy_honor_leaves_out_tainted_nodes() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    let mut tainted = [node(2, &[(ZONE, "b")]), node(3, &[(ZONE, "b")])];
    for n in &mut tainted {
        n.taints = vec![taint("dedicated", "gpu", TaintEffect::NoSchedule)];
    }
    plugin.sync_nodes(tainted.to_vec(), vec![]);
    place(
        &mut plugin,
        &[(0, "default", FOO, 0), (1, "default", FOO, 1)],
    );
    // Ignore (the default): zone b is a domain with 0 pods.
    let ignore = spread("DoNotSchedule", ZONE, "");
    let result = plugin.filter(&pod(FOO, Some(&ignore)), &candidates(&[0, 1]))?;
    assert_eq!(reasons(&result), vec![SKEW, SKEW]);
    // Honor: zone b's nodes are not domains.
    let honor = spread("DoNotSchedule", ZONE, r#","nodeTaintsPolicy":"Honor""#);
    let result = plugin.filter(&pod(FOO, Some(&honor)), &candidates(&[0, 1]))?;
    assert_eq!(reasons(&result), vec![None, None]);
    Ok(())
}

// kube-scheduler PodTopologySpread (nodeLabelsMatchSpreadConstraints): only nodes with every
// constraint's key are counted; a candidate lacking any key is refused for the missing label.
#[test]
fn nodes_without_every_key_are_not_counted() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(
        &mut plugin,
        &[(0, "default", FOO, 0), (1, "default", FOO, 1)],
    );
    let constraints = format!(
        r#"[{{"maxSkew":1,"topologyKey":"{ZONE}","whenUnsatisfiable":"DoNotSchedule",
              "labelSelector":{{"matchLabels":{{"app":"foo"}}}}}},
            {{"maxSkew":1,"topologyKey":"rack","whenUnsatisfiable":"DoNotSchedule",
              "labelSelector":{{"matchLabels":{{"app":"foo"}}}}}}]"#
    );
    // No node has a rack label: nothing is counted, and every node lacks a key.
    let result = plugin.filter(&pod(FOO, Some(&constraints)), &all())?;
    assert_eq!(reasons(&result), vec![LABEL; 5]);
    Ok(())
}

#[test]
fn an_empty_selector_counts_no_pods() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(
        &mut plugin,
        &[(0, "default", FOO, 0), (1, "default", FOO, 1)],
    );
    let constraints = format!(
        r#"[{{"maxSkew":1,"topologyKey":"{ZONE}","whenUnsatisfiable":"DoNotSchedule","labelSelector":{{}}}}]"#
    );
    let result = plugin.filter(&pod(FOO, Some(&constraints)), &all())?;
    assert_eq!(reasons(&result), vec![None, None, None, None, LABEL]);
    Ok(())
}
