//! The Deployment's conditions: their types and reasons (`deploymentutil`'s constants,
//! which `kubectl rollout status` and people read), and setting one on the working
//! Deployment.

use keel_sdk::controller::{objects, time};
use serde_json::{Value, json};

use crate::plan::Plan;

/// Condition type: enough pods are available.
pub const AVAILABLE: &str = "Available";
/// Condition type: the rollout is progressing, complete, paused or stuck.
pub const PROGRESSING: &str = "Progressing";
/// Condition type: a ReplicaSet could not create or delete pods.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Available: at least replicas - maxUnavailable pods are available.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
/// Available is False.
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
/// Progressing: this reconcile created the new ReplicaSet.
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
/// Progressing: the new ReplicaSet was found and there was no Progressing condition.
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
/// Progressing: the rollout made progress.
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
/// Progressing: the rollout is complete.
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
/// Progressing is False: no progress within progressDeadlineSeconds.
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
/// Progressing is Unknown: `spec.paused`.
pub const PAUSED: &str = "DeploymentPaused";
/// Progressing is Unknown: `spec.paused` was cleared.
pub const RESUMED: &str = "DeploymentResumed";

/// Sets a condition on the working Deployment (its times managed by
/// `objects::set_condition`).
pub fn set(plan: &mut Plan<'_>, condition_type: &str, status: &str, reason: &str, message: &str) {
    let condition = objects::Condition {
        condition_type,
        status,
        reason,
        message,
    };
    objects::set_condition(&mut plan.deployment, &condition, plan.now);
}

/// The reason of the working Deployment's condition `condition_type`.
pub fn reason<'v>(deployment: &'v Value, condition_type: &str) -> Option<&'v str> {
    objects::condition(deployment, condition_type)?
        .get("reason")
        .and_then(Value::as_str)
}

/// Removes condition `condition_type` from `status`.
pub fn remove(status: &mut Value, condition_type: &str) {
    if let Some(Value::Array(list)) = status.get_mut("conditions") {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some(condition_type));
    }
}

/// Replaces (or adds) condition `condition_type` in `status` with one updated `now`,
/// keeping its transition time when its status does not change: what the controller does
/// when a rollout makes progress, so that the deadline counts from the last progress.
pub fn refresh(
    status: &mut Value,
    condition_type: &str,
    state: &str,
    reason: &str,
    message: &str,
    now: u64,
) {
    let now = time::format_rfc3339(now);
    let previous = status
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(condition_type))
        })
        .cloned();
    let transition = previous
        .filter(|c| c.get("status").and_then(Value::as_str) == Some(state))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now));
    remove(status, condition_type);
    let condition = json!({
        "type": condition_type,
        "status": state,
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": transition,
    });
    if let Some(root) = status.as_object_mut() {
        let list = root.entry("conditions").or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            list.push(condition);
        } else {
            *list = json!([condition]);
        }
    }
}
