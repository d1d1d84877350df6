//! Graceful deletion, as Kubernetes' pod strategy decides it: a pod bound to a node that has
//! not finished is not removed at once. It is marked (`deletionTimestamp` the grace period
//! from now, `deletionGracePeriodSeconds` the period) so its node's agent can stop its
//! containers within the period and then remove it with a grace period of 0. The period is
//! the delete's `gracePeriodSeconds`, or the pod's `terminationGracePeriodSeconds` (30 by
//! default); a negative one counts as 1. A pod not bound yet, or finished, goes at once;
//! so does every other kind (without finalizers).

use serde_json::Value;

use crate::object::{ResourceType, meta};

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// The grace period, in seconds, a delete of `current` (asking for `requested`) gives it;
/// 0 when it goes at once.
pub fn grace_period(rt: &ResourceType, current: &Value, requested: Option<i64>) -> i64 {
    if rt.group.is_empty() && rt.kind == "Pod" {
        pod_grace_period(current, requested)
    } else {
        0
    }
}

fn pod_grace_period(pod: &Value, requested: Option<i64>) -> i64 {
    let bound = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|node| !node.is_empty());
    let finished = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    let period = requested.unwrap_or_else(|| {
        pod.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_GRACE_SECONDS)
    });
    if period < 0 { 1 } else { period }
}

/// Whether a delete with grace period `period` changes an object already marked: only a
/// shorter period does (a longer one leaves the marked one).
pub fn shortens(current: &Value, period: i64) -> bool {
    meta::deletion_grace_seconds(current).is_none_or(|marked| period < marked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Registry;
    use serde_json::json;

    #[test]
    fn bound_running_pods_get_their_grace_period_and_others_go_at_once() {
        let kinds = Registry::default();
        let pods = kinds.by_path("", "v1", "pods").expect("pods");
        let config_maps = kinds.by_path("", "v1", "configmaps").expect("configmaps");
        let bound = json!({"spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 5},
            "status": {"phase": "Running"}});
        assert_eq!(grace_period(pods, &bound, None), 5);
        assert_eq!(grace_period(pods, &bound, Some(0)), 0);
        assert_eq!(grace_period(pods, &bound, Some(-3)), 1);
        assert_eq!(
            grace_period(pods, &json!({"spec": {"nodeName": "n1"}}), None),
            30
        );
        assert_eq!(grace_period(pods, &json!({"spec": {}}), Some(10)), 0);
        let done = json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}});
        assert_eq!(grace_period(pods, &done, None), 0);
        assert_eq!(grace_period(config_maps, &bound, Some(10)), 0);
    }

    #[test]
    fn only_a_shorter_period_changes_a_marked_pod() {
        let marked = json!({"metadata": {"deletionGracePeriodSeconds": 30}});
        assert!(shortens(&marked, 10));
        assert!(!shortens(&marked, 30));
        assert!(!shortens(&marked, 60));
        assert!(shortens(&json!({"metadata": {}}), 30));
    }
}
