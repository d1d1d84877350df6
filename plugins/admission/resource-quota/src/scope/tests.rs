//! Tests of scope matching, each citing the case of Kubernetes' pod evaluator
//! (`pkg/quota/v1/evaluator/core/pods.go`, `podMatchesScopeFunc`) it follows.

use serde_json::json;

use super::*;

const POD: Kind<'static> = Kind {
    group: "",
    kind: "Pod",
    plural: "pods",
};

fn scopes(spec: Value) -> Scopes {
    match Scopes::read(&json!({ "spec": spec })) {
        Ok(scopes) => scopes,
        Err(why) => panic!("{why}"),
    }
}

fn pod(spec: Value) -> Value {
    json!({ "metadata": {"name": "p"}, "spec": spec })
}

fn container(resources: Value) -> Value {
    json!({"containers": [{"name": "c", "image": "i", "resources": resources}]})
}

// isTerminating: activeDeadlineSeconds set and >= 0.
#[test]
fn terminating_follows_active_deadline_seconds() {
    let terminating = scopes(json!({"scopes": ["Terminating"]}));
    let not = scopes(json!({"scopes": ["NotTerminating"]}));
    let with_deadline = pod(json!({"activeDeadlineSeconds": 30, "containers": []}));
    let without = pod(json!({"containers": []}));
    assert!(terminating.matches(&POD, &with_deadline));
    assert!(!terminating.matches(&POD, &without));
    assert!(not.matches(&POD, &without));
    assert!(!not.matches(&POD, &with_deadline));
}

// GetPodQOS: BestEffort when no container sets a cpu or memory request or limit above 0.
#[test]
fn best_effort_is_the_qos_class() {
    let best_effort = scopes(json!({"scopes": ["BestEffort"]}));
    let not = scopes(json!({"scopes": ["NotBestEffort"]}));
    let bare = pod(container(json!({})));
    let zero = pod(container(json!({"requests": {"cpu": "0"}})));
    let burstable = pod(container(json!({"limits": {"memory": "64Mi"}})));
    let gpu_only = pod(container(json!({"limits": {"example.com/gpu": "1"}})));
    let init = pod(json!({"containers": [{"name": "c"}],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "100m"}}}]}));
    for p in [&bare, &zero, &gpu_only] {
        assert!(best_effort.matches(&POD, p), "{p}");
        assert!(!not.matches(&POD, p), "{p}");
    }
    for p in [&burstable, &init] {
        assert!(!best_effort.matches(&POD, p), "{p}");
        assert!(not.matches(&POD, p), "{p}");
    }
}

// PriorityClass: Exists (a non-empty name), In, NotIn, and DoesNotExist never (the name
// is always in the label set Kubernetes matches against).
#[test]
fn priority_class_through_the_selector() {
    let selector = |operator: &str, values: Value| {
        scopes(json!({"scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": operator, "values": values}]}}))
    };
    let high = pod(json!({"priorityClassName": "high", "containers": []}));
    let none = pod(json!({"containers": []}));
    let listed = selector("In", json!(["high", "medium"]));
    assert!(listed.matches(&POD, &high) && !listed.matches(&POD, &none));
    let not_in = selector("NotIn", json!(["high"]));
    assert!(!not_in.matches(&POD, &high) && not_in.matches(&POD, &none));
    let exists = selector("Exists", json!([]));
    assert!(exists.matches(&POD, &high) && !exists.matches(&POD, &none));
    let missing = selector("DoesNotExist", json!([]));
    assert!(!missing.matches(&POD, &high) && !missing.matches(&POD, &none));
}

// usesCrossNamespacePodAffinity: a term with namespaces or a namespaceSelector.
#[test]
fn cross_namespace_affinity_terms() {
    let cross = scopes(json!({"scopes": ["CrossNamespacePodAffinity"]}));
    let required = pod(json!({"containers": [], "affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "zone", "namespaces": ["other"]}]}}}));
    let preferred = pod(json!({"containers": [], "affinity": {"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1,
            "podAffinityTerm": {"topologyKey": "zone", "namespaceSelector": {}}}]}}}));
    let local = pod(json!({"containers": [], "affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "zone"}]}}}));
    assert!(cross.matches(&POD, &required));
    assert!(cross.matches(&POD, &preferred));
    assert!(!cross.matches(&POD, &local));
}

// Every scope must match; scopes and the selector combine; other kinds never match a
// scoped quota; an unscoped quota matches everything.
#[test]
fn all_scopes_must_match_and_only_pods_have_scopes() {
    let both = scopes(
        json!({"scopes": ["BestEffort"], "scopeSelector": {"matchExpressions": [
        {"scopeName": "Terminating", "operator": "Exists"}]}}),
    );
    let deadline_only = pod(json!({"activeDeadlineSeconds": 5, "containers": [{"name": "c"}]}));
    let requests = pod(json!({"activeDeadlineSeconds": 5,
        "containers": [{"name": "c", "resources": {"requests": {"memory": "1Mi"}}}]}));
    assert!(both.matches(&POD, &deadline_only));
    assert!(!both.matches(&POD, &requests));
    let service = Kind {
        group: "",
        kind: "Service",
        plural: "services",
    };
    assert!(!scopes(json!({"scopes": ["NotTerminating"]})).matches(&service, &json!({})));
    assert!(scopes(json!({})).matches(&service, &json!({})));
}

#[test]
fn unknown_scopes_and_operators_are_named() {
    let read = |spec: Value| Scopes::read(&json!({ "spec": spec })).err();
    assert_eq!(
        read(json!({"scopes": ["VolumeAttributesClass"]})),
        Some("scope \"VolumeAttributesClass\"".to_string())
    );
    assert_eq!(
        read(json!({"scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "Gt"}]}})),
        Some("scope selector operator \"Gt\"".to_string())
    );
}
