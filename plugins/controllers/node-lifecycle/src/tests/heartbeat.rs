//! The last heartbeat: the Lease's `renewTime` ("Node heartbeats" in
//! <https://kubernetes.io/docs/concepts/architecture/nodes/#node-heartbeats>), else the Ready
//! condition's `lastHeartbeatTime`, else the node's creation; a fresh node is only looked at
//! again when that heartbeat would expire.

use keel_sdk::controller::testing::FakeView;
use keel_sdk::controller::{ObjectRef, Reconciler};
use serde_json::json;

use super::fixtures::*;
use crate::EXPIRY_MARGIN_MILLIS;
use crate::heartbeat::last_heartbeat;

#[test]
fn a_gone_node_needs_nothing() -> Result<(), String> {
    let key = ObjectRef::new("", "Node", "", "n1");
    let result = controller_with("null")
        .reconcile(&FakeView::new(), &key, None)
        .map_err(|e| e.message)?;
    assert!(result.actions.is_empty());
    assert_eq!(result.requeue_after_millis, None);
    Ok(())
}

#[test]
fn a_fresh_node_is_only_requeued_for_when_its_lease_would_expire() {
    // Lease renewed 9.877 s ago (microseconds in renewTime): 30.123 s of the 40 s grace left.
    let node = node("n1", 3000);
    let lease = lease("n1", "2026-11-23T23:42:10.123456Z");
    let result = reconcile(&view_at(NOW, &[&node, &lease]), &node);
    assert!(result.actions.is_empty(), "{}", describe(&result.actions));
    assert_eq!(
        result.requeue_after_millis,
        Some(30_123 + EXPIRY_MARGIN_MILLIS)
    );
}

#[test]
fn at_exactly_the_grace_period_a_node_is_still_reachable() {
    // Unreachable means now - heartbeat > grace.
    let node = node("n1", 40);
    let result = reconcile(&view_at(NOW, &[&node]), &node);
    assert!(result.actions.is_empty());
    assert_eq!(result.requeue_after_millis, Some(EXPIRY_MARGIN_MILLIS));
}

#[test]
fn without_a_lease_the_ready_heartbeat_counts() {
    let fresh = node("n1", 30);
    let result = reconcile(&view_at(NOW, &[&fresh]), &fresh);
    assert!(result.actions.is_empty());
    assert_eq!(
        result.requeue_after_millis,
        Some(10_000 + EXPIRY_MARGIN_MILLIS)
    );
    let stale = node("n1", 41);
    let result = reconcile(&view_at(NOW, &[&stale]), &stale);
    assert_eq!(
        condition(&only_status_update(&result), "Ready")["status"],
        "Unknown"
    );
}

#[test]
fn a_node_that_never_posted_status_is_timed_from_its_creation() {
    let mut young = node("n1", 0);
    young["status"] = json!({});
    young["metadata"]["creationTimestamp"] = json!(ago(5));
    assert_eq!(last_heartbeat(&young, None), Some(NOW - 5_000));
    let result = reconcile(&view_at(NOW, &[&young]), &young);
    assert!(result.actions.is_empty());
    assert_eq!(
        result.requeue_after_millis,
        Some(35_000 + EXPIRY_MARGIN_MILLIS)
    );
}

#[test]
fn the_later_of_lease_and_status_heartbeat_counts() {
    // Kubernetes takes either a renewed Lease or a newly posted status as a heartbeat.
    let node = node("n1", 5);
    let stale_lease = lease("n1", &ago(100));
    assert_eq!(last_heartbeat(&node, Some(&stale_lease)), Some(NOW - 5_000));
    let fresh_lease = lease("n1", &ago(2));
    assert_eq!(last_heartbeat(&node, Some(&fresh_lease)), Some(NOW - 2_000));
}

#[test]
fn a_custom_grace_period_is_honoured() {
    let controller = controller_with(r#"{"nodeMonitorGracePeriodSeconds": 10}"#);
    let node = node("n1", 3000);
    let lease = lease("n1", &ago(11));
    let result = reconcile_with(&controller, &view_at(NOW, &[&node, &lease]), &node);
    assert_eq!(
        condition(&only_status_update(&result), "Ready")["status"],
        "Unknown"
    );
}
