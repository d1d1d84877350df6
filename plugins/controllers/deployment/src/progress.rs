//! The Progressing condition (Kubernetes' progress.go and `checkPausedConditions`):
//! `NewReplicaSetAvailable` once the rollout is complete, `ReplicaSetUpdated` (its
//! `lastUpdateTime` moved) whenever it makes progress, `ProgressDeadlineExceeded` when
//! `progressDeadlineSeconds` passed since the last progress, `DeploymentPaused` and
//! `DeploymentResumed` when `spec.paused` changes; the `ReplicaFailure` condition copied
//! from the ReplicaSets; and the requeue that checks the deadline in time.

use keel_sdk::controller::{objects, time};
use serde_json::{Value, json};

use crate::conditions::{
    self, NEW_RS_AVAILABLE, PAUSED, PROGRESSING, REPLICA_FAILURE, RESUMED, RS_UPDATED, TIMED_OUT,
};
use crate::plan::Plan;
use crate::status::{self, Counts};

/// `checkPausedConditions`: Progressing Unknown `DeploymentPaused` while paused, and
/// `DeploymentResumed` once resumed, so that time spent paused never counts against the
/// deadline; a timed-out rollout keeps its condition.
pub fn check_paused(plan: &mut Plan<'_>) {
    if plan.d.progress_deadline_seconds.is_none() {
        return;
    }
    let reason = conditions::reason(&plan.deployment, PROGRESSING);
    if reason == Some(TIMED_OUT) {
        return;
    }
    let paused_condition = reason == Some(PAUSED);
    if plan.d.paused && !paused_condition {
        conditions::set(plan, PROGRESSING, "Unknown", PAUSED, "Deployment is paused");
    } else if !plan.d.paused && paused_condition {
        conditions::set(
            plan,
            PROGRESSING,
            "Unknown",
            RESUMED,
            "Deployment is resumed",
        );
    }
}

/// `syncRolloutStatus`: the status from the ReplicaSets, with progress estimated against
/// the status as read.
pub fn sync_rollout_status(plan: &mut Plan<'_>) {
    let before = status::read_counts(plan);
    status::calculate(plan);
    let after = status::working_counts(plan);
    let deadline = plan.d.progress_deadline_seconds;
    if deadline.is_none() {
        let mut status = plan.status().clone();
        conditions::remove(&mut status, PROGRESSING);
        plan.set_status(status);
    }
    let current = conditions::reason(&plan.deployment, PROGRESSING).map(str::to_string);
    let already_complete =
        after.replicas == after.updated && current.as_deref() == Some(NEW_RS_AVAILABLE);
    if let Some(deadline) = deadline
        && !already_complete
    {
        let subject = match plan.new_rs() {
            Some(rs) => format!("ReplicaSet {:?}", rs.name()),
            None => format!("Deployment {:?}", plan.d.name),
        };
        if status::is_complete(plan, &after) {
            let message = format!("{subject} has successfully progressed.");
            conditions::set(plan, PROGRESSING, "True", NEW_RS_AVAILABLE, &message);
        } else if made_progress(&before, &after) {
            let message = format!("{subject} is progressing.");
            let mut status = plan.status().clone();
            conditions::refresh(
                &mut status,
                PROGRESSING,
                "True",
                RS_UPDATED,
                &message,
                plan.now,
            );
            plan.set_status(status);
        } else if timed_out(plan, deadline) {
            let message = format!("{subject} has timed out progressing.");
            conditions::set(plan, PROGRESSING, "False", TIMED_OUT, &message);
        }
    }
    copy_replica_failure(plan);
    requeue_for_deadline(plan, &after);
}

/// `DeploymentProgressing`: more updated, ready or available pods, or fewer old ones,
/// than the status as read says.
fn made_progress(before: &Counts, after: &Counts) -> bool {
    after.updated > before.updated
        || after.replicas - after.updated < before.replicas - before.updated
        || after.ready > before.ready
        || after.available > before.available
}

/// `DeploymentTimedOut`: `deadline` seconds passed since the Progressing condition's
/// `lastUpdateTime` (a complete rollout never times out; a timed-out one stays so).
fn timed_out(plan: &Plan<'_>, deadline: i64) -> bool {
    let Some(condition) = objects::condition(&plan.deployment, PROGRESSING) else {
        return false;
    };
    match condition.get("reason").and_then(Value::as_str) {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => last_update_millis(condition)
            .is_some_and(|from| from.saturating_add(seconds_millis(deadline)) < plan.now),
    }
}

/// `requeueStuckDeployment`: a rollout not complete, whose Progressing condition could
/// still time out, is checked again just after its deadline.
fn requeue_for_deadline(plan: &mut Plan<'_>, after: &Counts) {
    let Some(deadline) = plan.d.progress_deadline_seconds else {
        return;
    };
    let Some(condition) = objects::condition(&plan.deployment, PROGRESSING) else {
        return;
    };
    let reason = condition.get("reason").and_then(Value::as_str);
    if matches!(reason, Some(TIMED_OUT | NEW_RS_AVAILABLE)) || status::is_complete(plan, after) {
        return;
    }
    let Some(from) = last_update_millis(condition) else {
        return;
    };
    let due = from.saturating_add(seconds_millis(deadline));
    // A second more, as Kubernetes adds, so that the check finds the deadline passed.
    plan.requeue_after(due.saturating_sub(plan.now) + 1000);
}

/// Copies a ReplicaSet's `ReplicaFailure` condition (the new ReplicaSet's first), or
/// removes the Deployment's when none has one.
fn copy_replica_failure(plan: &mut Plan<'_>) {
    let failure = |rs: &crate::replicasets::ReplicaSet| {
        objects::condition(&rs.object, REPLICA_FAILURE).cloned()
    };
    let found = plan
        .new_rs()
        .and_then(failure)
        .or_else(|| plan.rss.iter().find_map(failure));
    let mut status = plan.status().clone();
    let Some(found) = found else {
        conditions::remove(&mut status, REPLICA_FAILURE);
        plan.set_status(status);
        return;
    };
    let field = |name: &str| found.get(name).cloned().unwrap_or(Value::Null);
    let current = objects::condition(&plan.deployment, REPLICA_FAILURE);
    let same = current.is_some_and(|c| {
        c.get("status") == found.get("status") && c.get("reason") == found.get("reason")
    });
    if same {
        return;
    }
    conditions::remove(&mut status, REPLICA_FAILURE);
    let condition = json!({
        "type": REPLICA_FAILURE,
        "status": field("status"),
        "reason": field("reason"),
        "message": field("message"),
        "lastUpdateTime": field("lastTransitionTime"),
        "lastTransitionTime": field("lastTransitionTime"),
    });
    if let Some(root) = status.as_object_mut() {
        let list = root.entry("conditions").or_insert_with(|| json!([]));
        if let Value::Array(list) = list {
            list.push(condition);
        }
    }
    plan.set_status(status);
}

fn last_update_millis(condition: &Value) -> Option<u64> {
    condition
        .get("lastUpdateTime")
        .and_then(Value::as_str)
        .and_then(time::parse_rfc3339)
}

fn seconds_millis(seconds: i64) -> u64 {
    u64::try_from(seconds).unwrap_or(0).saturating_mul(1000)
}
