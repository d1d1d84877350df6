//! A node past its grace period ("Node controller" in
//! <https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller>): its conditions
//! become Unknown, then it is tainted unreachable (`NoExecute` and `NoSchedule`), one node
//! write per reconcile.

use keel_sdk::controller::Action;
use serde_json::{Value, json};

use super::fixtures::*;
use crate::FOLLOW_UP_MILLIS;
use crate::conditions::{NEVER_MESSAGE, NEVER_REASON, STOPPED_MESSAGE, STOPPED_REASON};

#[test]
fn a_stale_node_first_gets_its_conditions_unknown() {
    let node = node("n1", 3000);
    let lease = lease("n1", &ago(41));
    let result = reconcile(&view_at(NOW, &[&node, &lease]), &node);
    let sent = only_status_update(&result);
    assert_eq!(result.requeue_after_millis, Some(FOLLOW_UP_MILLIS));
    assert_eq!(sent["metadata"]["resourceVersion"], "7");
    let ready = condition(&sent, "Ready");
    assert_eq!(ready["status"], "Unknown");
    assert_eq!(ready["reason"], STOPPED_REASON);
    assert_eq!(ready["message"], STOPPED_MESSAGE);
    assert_eq!(ready["lastTransitionTime"], ago(0));
    assert_eq!(
        ready["lastHeartbeatTime"],
        ago(3000),
        "the heartbeat is the kubelet's"
    );
    let memory = condition(&sent, "MemoryPressure");
    assert_eq!(memory["status"], "Unknown");
    assert_eq!(memory["reason"], STOPPED_REASON);
    // Conditions the kubelet never posted are added, as Kubernetes does.
    for missing in ["DiskPressure", "PIDPressure"] {
        let c = condition(&sent, missing);
        assert_eq!(c["status"], "Unknown");
        assert_eq!(c["reason"], NEVER_REASON);
        assert_eq!(c["message"], NEVER_MESSAGE);
        assert_eq!(c["lastHeartbeatTime"], ago(3600));
    }
    assert!(
        sent["spec"].get("taints").is_none(),
        "taints wait for the next reconcile"
    );
}

fn marked_unknown(node: Value) -> Value {
    let result = reconcile(&view_at(NOW, &[&node]), &node);
    let mut sent = only_status_update(&result);
    sent["metadata"]["resourceVersion"] = json!("8");
    sent
}

#[test]
fn then_it_is_tainted_unreachable() {
    let node = marked_unknown(node("n1", 3000));
    let result = reconcile(&view_at(NOW + 10, &[&node]), &node);
    assert_eq!(result.requeue_after_millis, Some(FOLLOW_UP_MILLIS));
    let sent = only_update(&result);
    assert_eq!(sent["metadata"]["resourceVersion"], "8");
    assert_eq!(sent["spec"]["taints"], unreachable_taints(&ago(0)));
    // Ready's transition time did not move again.
    assert_eq!(condition(&sent, "Ready")["lastTransitionTime"], ago(0));
}

#[test]
fn taints_already_there_are_kept_and_not_ready_ones_swapped_out() {
    let node = tainted(
        marked_unknown(node("n1", 3000)),
        json!([
            {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": ago(60)},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        ]),
    );
    let sent = only_update(&reconcile(&view_at(NOW, &[&node]), &node));
    assert_eq!(
        sent["spec"]["taints"],
        json!([
            {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": ago(0)},
        ])
    );
}

#[test]
fn an_unreachable_taint_without_a_time_gets_one() {
    let node = tainted(
        marked_unknown(node("n1", 3000)),
        json!([
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        ]),
    );
    let sent = only_update(&reconcile(&view_at(NOW, &[&node]), &node));
    assert_eq!(sent["spec"]["taints"], unreachable_taints(&ago(0)));
}

#[test]
fn a_marked_and_tainted_node_without_pods_is_only_rechecked_periodically() {
    // Idempotent: nothing to write again; the monitor period brings it back to see it recover.
    let node = tainted(
        marked_unknown(node("n1", 3000)),
        unreachable_taints(&ago(20)),
    );
    let result = reconcile(&view_at(NOW, &[&node]), &node);
    assert!(result.actions.is_empty(), "{}", describe(&result.actions));
    assert_eq!(result.requeue_after_millis, Some(5_000));
}

#[test]
fn the_steps_follow_one_another_with_one_node_write_each() {
    // Applying each answer as the API would: never two writes guarded by the same version.
    let mut current = node("n1", 3000);
    let victim = pod("web", "n1", json!([]));
    let controller = controller_with(r#"{"defaultTolerationSeconds": 0}"#);
    let mut answers = Vec::new();
    for step in 0..3u64 {
        let view = view_at(NOW + step, &[&current, &victim]);
        let result = reconcile_with(&controller, &view, &current);
        answers.push(describe(&result.actions));
        let node_writes = result
            .actions
            .iter()
            .filter(|a| !matches!(a, Action::Delete(_)))
            .count();
        assert!(node_writes <= 1);
        if let Some(Action::Update(json) | Action::UpdateStatus(json)) = result.actions.first() {
            current = serde_json::from_str(json).unwrap_or_default();
            current["metadata"]["resourceVersion"] = json!(format!("{}", 8 + step));
        }
    }
    assert_eq!(answers, ["[update-status]", "[update]", "[delete]"]);
}
