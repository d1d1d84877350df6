//! Taint-based evictions
//! (<https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions>):
//! a pod on an unreachable node goes when its toleration of the `NoExecute` taint runs out,
//! counted from the taint's `timeAdded`; without one it gets `defaultTolerationSeconds`.

use keel_sdk::controller::ReconcileResult;
use serde_json::{Value, json};

use super::fixtures::*;
use crate::tolerations::{Tolerance, tolerance, tolerates};

const TAINTED_AGO: u64 = 0;

fn unreachable_node() -> Value {
    let mut node = tainted(node("n1", 3000), unreachable_taints(&ago(TAINTED_AGO)));
    for c in node["status"]["conditions"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        c["status"] = json!("Unknown");
    }
    for missing in ["DiskPressure", "PIDPressure"] {
        if let Some(list) = node["status"]["conditions"].as_array_mut() {
            list.push(json!({"type": missing, "status": "Unknown"}));
        }
    }
    node
}

fn pods() -> Vec<Value> {
    vec![
        pod("zero", "n1", json!([tolerate_unreachable(Some(0))])),
        pod("negative", "n1", json!([tolerate_unreachable(Some(-5))])),
        pod("minute", "n1", json!([tolerate_unreachable(Some(60))])),
        pod("forever", "n1", json!([tolerate_unreachable(None)])),
        pod("defaulted", "n1", json!([])),
        pod("elsewhere", "n2", json!([])),
    ]
}

fn at(seconds_after_taint: u64) -> ReconcileResult {
    let node = unreachable_node();
    let pods = pods();
    let mut objects: Vec<&Value> = pods.iter().collect();
    objects.push(&node);
    let now = NOW - TAINTED_AGO * 1000 + seconds_after_taint * 1000;
    reconcile(&view_at(now, &objects), &node)
}

#[test]
fn a_pod_tolerating_zero_or_negative_seconds_is_evicted_at_once() {
    let result = at(0);
    assert_eq!(evicted(&result), ["default/zero", "default/negative"]);
    assert_eq!(
        result.requeue_after_millis,
        Some(5_000),
        "monitor period first"
    );
}

#[test]
fn a_pod_tolerating_some_seconds_is_evicted_when_they_have_passed() {
    let result = at(58);
    assert_eq!(evicted(&result), ["default/zero", "default/negative"]);
    assert_eq!(
        result.requeue_after_millis,
        Some(2_000),
        "requeued for the next eviction"
    );
    let result = at(60);
    assert_eq!(
        evicted(&result),
        ["default/zero", "default/negative", "default/minute"]
    );
    assert_eq!(result.requeue_after_millis, Some(5_000));
}

#[test]
fn a_pod_without_a_toleration_gets_the_default_seconds() {
    let result = at(299);
    assert!(!evicted(&result).contains(&"default/defaulted".to_string()));
    assert_eq!(result.requeue_after_millis, Some(1_000));
    let result = at(300);
    assert!(evicted(&result).contains(&"default/defaulted".to_string()));
}

#[test]
fn a_pod_tolerating_the_taint_without_seconds_stays_for_ever() {
    let result = at(1_000_000);
    let gone = evicted(&result);
    assert!(!gone.contains(&"default/forever".to_string()));
    assert!(
        !gone.contains(&"default/elsewhere".to_string()),
        "another node's pod"
    );
    assert_eq!(gone.len(), 4);
}

#[test]
fn a_pod_already_being_deleted_is_not_evicted_again() {
    let node = unreachable_node();
    let mut going = pod("going", "n1", json!([]));
    going["metadata"]["deletionTimestamp"] = json!(ago(1));
    let result = reconcile(&view_at(NOW + 400_000, &[&node, &going]), &node);
    assert!(result.actions.is_empty());
}

#[test]
fn a_configured_default_toleration_applies() {
    let controller = controller_with(r#"{"defaultTolerationSeconds": 30}"#);
    let node = unreachable_node();
    let plain = pod("plain", "n1", json!(null));
    let result = reconcile_with(&controller, &view_at(NOW + 10_000, &[&node, &plain]), &node);
    assert!(result.actions.is_empty());
    assert_eq!(result.requeue_after_millis, Some(5_000));
    let result = reconcile_with(&controller, &view_at(NOW + 30_000, &[&node, &plain]), &node);
    assert_eq!(evicted(&result), ["default/plain"]);
}

#[test]
fn tolerations_match_as_kubernetes_matches_them() {
    let key = "node.kubernetes.io/unreachable";
    // An empty key with Exists tolerates every taint; an empty effect every effect.
    assert!(tolerates(
        &json!({"operator": "Exists"}),
        key,
        "",
        "NoExecute"
    ));
    assert!(tolerates(
        &json!({"key": key, "operator": "Exists"}),
        key,
        "",
        "NoExecute"
    ));
    // Equal (the default operator) compares values: the unreachable taint has none.
    assert!(tolerates(&json!({"key": key}), key, "", "NoExecute"));
    assert!(!tolerates(
        &json!({"key": key, "value": "x"}),
        key,
        "",
        "NoExecute"
    ));
    assert!(!tolerates(
        &json!({"key": key, "operator": "Exists", "effect": "NoSchedule"}),
        key,
        "",
        "NoExecute"
    ));
    assert!(!tolerates(
        &json!({"key": "other", "operator": "Exists"}),
        key,
        "",
        "NoExecute"
    ));
    assert!(!tolerates(
        &json!({"key": key, "operator": "Gt"}),
        key,
        "",
        "NoExecute"
    ));
    // The first matching toleration decides.
    let pod = pod(
        "p",
        "n1",
        json!([
            {"key": "other", "operator": "Exists", "tolerationSeconds": 1},
            tolerate_unreachable(None),
            tolerate_unreachable(Some(10)),
        ]),
    );
    assert_eq!(tolerance(&pod, key, "", "NoExecute"), Tolerance::Forever);
}
