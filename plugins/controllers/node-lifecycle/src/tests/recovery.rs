//! A node whose heartbeat is fresh again loses its unreachable taints (Kubernetes'
//! `markNodeAsReachable`); its Ready condition is left for the kubelet to post.

use keel_sdk::controller::Action;
use serde_json::json;

use super::fixtures::*;
use crate::EXPIRY_MARGIN_MILLIS;

#[test]
fn a_fresh_heartbeat_removes_the_unreachable_taints_only() {
    let mut node = tainted(
        node("n1", 3000),
        json!([
            {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": ago(600)},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        ]),
    );
    node["status"]["conditions"][0]["status"] = json!("Unknown");
    let lease = lease("n1", &ago(1));
    let result = reconcile(&view_at(NOW, &[&node, &lease]), &node);
    let sent = only_update(&result);
    assert_eq!(
        sent["spec"]["taints"],
        json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    );
    assert_eq!(
        condition(&sent, "Ready")["status"],
        "Unknown",
        "left to the kubelet"
    );
    assert_eq!(
        result.requeue_after_millis,
        Some(39_000 + EXPIRY_MARGIN_MILLIS)
    );
}

#[test]
fn the_last_taint_removed_leaves_no_taint_list() {
    let node = tainted(node("n1", 3000), unreachable_taints(&ago(600)));
    let lease = lease("n1", &ago(0));
    let sent = only_update(&reconcile(&view_at(NOW, &[&node, &lease]), &node));
    assert!(sent["spec"].get("taints").is_none());
    // Once untainted, a fresh node needs nothing more.
    let result = reconcile(&view_at(NOW, &[&sent, &lease]), &sent);
    assert!(result.actions.is_empty());
}

#[test]
fn pods_on_a_recovered_node_are_not_evicted() {
    let node = tainted(node("n1", 3000), unreachable_taints(&ago(600)));
    let lease = lease("n1", &ago(0));
    let doomed = pod("web", "n1", json!([]));
    let result = reconcile(&view_at(NOW, &[&node, &lease, &doomed]), &node);
    assert!(
        !result
            .actions
            .iter()
            .any(|a| matches!(a, Action::Delete(_)))
    );
}
