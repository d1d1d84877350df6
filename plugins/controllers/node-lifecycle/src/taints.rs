//! The taints on an unreachable node (`node.kubernetes.io/unreachable`, effects `NoExecute`
//! and `NoSchedule`) in `spec.taints`: added while its heartbeat is stale (the `not-ready`
//! ones swapped out, as Kubernetes does when Ready turns Unknown), removed once it is fresh.

use keel_sdk::controller::time::{format_rfc3339, parse_rfc3339};
use keel_sdk::json::At;
use serde_json::{Value, json};

/// The key of the taints on an unreachable node.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// The key of the taints on a node whose Ready condition is False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";

/// The effect evicting pods that do not tolerate it.
pub const NO_EXECUTE: &str = "NoExecute";

/// The effect keeping new pods off.
pub const NO_SCHEDULE: &str = "NoSchedule";

fn field<'a>(taint: &'a Value, name: &str) -> &'a str {
    taint.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn is(taint: &Value, key: &str, effect: &str) -> bool {
    field(taint, "key") == key && field(taint, "effect") == effect
}

fn taints(node: &Value) -> Vec<Value> {
    node.at("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn with_taints(node: &Value, taints: Vec<Value>) -> Value {
    let mut node = node.clone();
    if let Some(root) = node.as_object_mut() {
        let spec = root.entry("spec").or_insert_with(|| json!({}));
        if !spec.is_object() {
            *spec = json!({});
        }
        if let Some(spec) = spec.as_object_mut() {
            if taints.is_empty() {
                spec.remove("taints");
            } else {
                spec.insert("taints".into(), Value::Array(taints));
            }
        }
    }
    node
}

/// When the unreachable `NoExecute` taint was added (its `timeAdded`), if it is on `node`
/// with a time that parses.
pub fn unreachable_since(node: &Value) -> Option<u64> {
    taints(node)
        .iter()
        .find(|t| is(t, UNREACHABLE, NO_EXECUTE))
        .and_then(|t| parse_rfc3339(field(t, "timeAdded")))
}

/// `node` with both unreachable taints (the `NoExecute` one added at `now_millis`, or given
/// that time if it has none that parses) and without the `not-ready` ones; None when it
/// already is so.
pub fn with_unreachable(node: &Value, now_millis: u64) -> Option<Value> {
    let current = taints(node);
    let mut wanted: Vec<Value> = current
        .iter()
        .filter(|t| field(t, "key") != NOT_READY)
        .cloned()
        .collect();
    let no_execute = wanted.iter_mut().find(|t| is(t, UNREACHABLE, NO_EXECUTE));
    match no_execute {
        Some(taint) => {
            if parse_rfc3339(field(taint, "timeAdded")).is_none() {
                taint["timeAdded"] = json!(format_rfc3339(now_millis));
            }
        }
        None => wanted.push(json!({
            "key": UNREACHABLE,
            "effect": NO_EXECUTE,
            "timeAdded": format_rfc3339(now_millis),
        })),
    }
    if !wanted.iter().any(|t| is(t, UNREACHABLE, NO_SCHEDULE)) {
        wanted.push(json!({"key": UNREACHABLE, "effect": NO_SCHEDULE}));
    }
    (wanted != current).then(|| with_taints(node, wanted))
}

/// `node` without the unreachable taints; None when it has none.
pub fn without_unreachable(node: &Value) -> Option<Value> {
    let current = taints(node);
    let kept: Vec<Value> = current
        .iter()
        .filter(|t| field(t, "key") != UNREACHABLE)
        .cloned()
        .collect();
    (kept.len() != current.len()).then(|| with_taints(node, kept))
}
