//! The node conditions the controller sets when a node stops posting its status, as
//! Kubernetes' `tryUpdateNodeHealth` does: Ready, MemoryPressure, DiskPressure and
//! PIDPressure become `Unknown`.

use keel_sdk::controller::time::format_rfc3339;
use keel_sdk::json::At;
use serde_json::{Value, json};

/// The conditions the kubelet posts that an unreachable node gets as `Unknown`.
pub const CONDITION_TYPES: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The reason of a condition the kubelet stopped posting.
pub const STOPPED_REASON: &str = "NodeStatusUnknown";

/// The message of a condition the kubelet stopped posting.
pub const STOPPED_MESSAGE: &str = "Kubelet stopped posting node status.";

/// The reason of a condition the kubelet never posted.
pub const NEVER_REASON: &str = "NodeStatusNeverUpdated";

/// The message of a condition the kubelet never posted.
pub const NEVER_MESSAGE: &str = "Kubelet never posted node status.";

/// `node` with every condition of [`CONDITION_TYPES`] `Unknown` (a present one keeps its
/// heartbeat and moves its transition time to now; a missing one is added, with the
/// creation time as heartbeat); None when all already are.
pub fn marked_unknown(node: &Value, now_millis: u64) -> Option<Value> {
    let now = format_rfc3339(now_millis);
    let created = node
        .at("/metadata/creationTimestamp")
        .cloned()
        .unwrap_or(Value::Null);
    let mut node = node.clone();
    let root = node.as_object_mut()?;
    let status = root.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = status
        .as_object_mut()?
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let conditions = conditions.as_array_mut()?;
    let mut changed = false;
    for condition_type in CONDITION_TYPES {
        let existing = conditions
            .iter_mut()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(condition_type));
        match existing {
            Some(condition) => {
                if condition.get("status").and_then(Value::as_str) != Some("Unknown") {
                    condition["status"] = json!("Unknown");
                    condition["reason"] = json!(STOPPED_REASON);
                    condition["message"] = json!(STOPPED_MESSAGE);
                    condition["lastTransitionTime"] = json!(now);
                    changed = true;
                }
            }
            None => {
                conditions.push(json!({
                    "type": condition_type,
                    "status": "Unknown",
                    "reason": NEVER_REASON,
                    "message": NEVER_MESSAGE,
                    "lastHeartbeatTime": created,
                    "lastTransitionTime": now,
                }));
                changed = true;
            }
        }
    }
    changed.then_some(node)
}
