//! The Recreate strategy (Kubernetes' recreate.go): every old ReplicaSet is scaled to zero
//! first; only when no pod of an old ReplicaSet is left running (none in its status, and
//! none in the cache that has not finished, terminating ones included) is the new
//! ReplicaSet created, or scaled, to the desired replicas.

use std::collections::BTreeSet;

use keel_sdk::controller::{PluginError, View, objects};
use keel_sdk::json::At;
use serde_json::Value;

use crate::history;
use crate::new_replica_set::{self, NewReplicaSet};
use crate::plan::Plan;
use crate::progress;
use crate::status;

/// How long to wait before looking again at pods, whose changes bring no reconcile.
const POLL_MILLIS: u64 = 1000;

/// `rolloutRecreate`.
pub fn rollout(plan: &mut Plan<'_>, view: &dyn View) -> Result<(), PluginError> {
    let mut scaled_down = false;
    for i in plan.active_old() {
        scaled_down |= plan.scale(i, 0);
    }
    if scaled_down {
        progress::sync_rollout_status(plan);
        return Ok(());
    }
    match old_pods_running(plan, view) {
        Running::No => {}
        Running::InStatus => {
            progress::sync_rollout_status(plan);
            return Ok(());
        }
        Running::InCache => {
            progress::sync_rollout_status(plan);
            plan.requeue_after(POLL_MILLIS);
            return Ok(());
        }
    }
    match new_replica_set::find_or_create(plan, view)? {
        NewReplicaSet::Collision => return Ok(()),
        NewReplicaSet::Absent => {
            progress::sync_rollout_status(plan);
            plan.requeue_after(POLL_MILLIS);
            return Ok(());
        }
        NewReplicaSet::Present => {}
    }
    if let Some(new) = plan.new {
        plan.scale(new, plan.d.replicas);
    }
    if status::is_complete(plan, &status::read_counts(plan)) {
        history::cleanup(plan);
    }
    progress::sync_rollout_status(plan);
    Ok(())
}

/// Where old pods were seen running.
enum Running {
    /// Nowhere.
    No,
    /// In an old ReplicaSet's status (its next status change reconciles again).
    InStatus,
    /// Only in the cache's pods (nothing will reconcile again: poll).
    InCache,
}

/// `oldPodsRunning`.
fn old_pods_running(plan: &Plan<'_>, view: &dyn View) -> Running {
    let old = plan.old();
    if old.iter().any(|i| plan.rss[*i].status_replicas() > 0) {
        return Running::InStatus;
    }
    let old_uids: BTreeSet<&str> = old.iter().map(|i| plan.rss[*i].uid()).collect();
    let d = plan.d;
    let running = view
        .list("", "Pod", &d.namespace, &d.selector)
        .iter()
        .filter(|pod| {
            objects::controller_ref(pod).is_some_and(|owner| old_uids.contains(owner.uid.as_str()))
        })
        .any(|pod| {
            !matches!(
                pod.at("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            )
        });
    if running {
        Running::InCache
    } else {
        Running::No
    }
}
