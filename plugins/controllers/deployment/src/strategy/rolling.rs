//! The RollingUpdate strategy (Kubernetes' rolling.go): each reconcile either scales the
//! new ReplicaSet up, as far as replicas + maxSurge allows, or scales old ones down, as far
//! as replicas - maxUnavailable available pods allows (unhealthy old replicas first), and
//! once the rollout is complete cleans up old ReplicaSets.

use keel_sdk::controller::{PluginError, View};

use crate::history;
use crate::new_replica_set::{self, NewReplicaSet};
use crate::plan::Plan;
use crate::progress;
use crate::replicasets::by_creation;
use crate::status;

/// How long to wait before looking again at something no write will signal.
const POLL_MILLIS: u64 = 1000;

/// `rolloutRolling`.
pub fn rollout(plan: &mut Plan<'_>, view: &dyn View) -> Result<(), PluginError> {
    match new_replica_set::find_or_create(plan, view)? {
        NewReplicaSet::Collision => return Ok(()),
        NewReplicaSet::Absent => {
            progress::sync_rollout_status(plan);
            plan.requeue_after(POLL_MILLIS);
            return Ok(());
        }
        NewReplicaSet::Present => {}
    }
    let Some(new) = plan.new else {
        return Ok(());
    };
    if reconcile_new(plan, new) || reconcile_old(plan, new) {
        progress::sync_rollout_status(plan);
        return Ok(());
    }
    if status::is_complete(plan, &status::read_counts(plan)) {
        history::cleanup(plan);
    }
    progress::sync_rollout_status(plan);
    Ok(())
}

/// `reconcileNewReplicaSet`: the new ReplicaSet scaled down to the desired replicas when
/// above, or up as far as the surge allows; whether it was resized.
fn reconcile_new(plan: &mut Plan<'_>, new: usize) -> bool {
    let desired = plan.d.replicas;
    let replicas = plan.rss[new].replicas();
    if replicas == desired {
        return false;
    }
    if replicas > desired {
        return plan.scale(new, desired);
    }
    let target = new_replica_set::new_replicas(plan, new);
    plan.scale(new, target)
}

/// `reconcileOldReplicaSets`: old ReplicaSets scaled down while the pods that would be
/// left available stay at least replicas - maxUnavailable; whether any was.
///
/// Available pods are counted per ReplicaSet as at most its spec (see
/// `ReplicaSet::kept_available`), so a status not yet caught up with a scale-down never
/// allows a second one.
fn reconcile_old(plan: &mut Plan<'_>, new: usize) -> bool {
    let mut old = plan.active_old();
    let old_pods: i64 = old.iter().map(|i| plan.rss[*i].replicas()).sum();
    if old_pods == 0 {
        return false;
    }
    let all_pods: i64 = plan.rss.iter().map(|rs| rs.replicas()).sum();
    let min_available = plan.d.replicas - plan.d.max_unavailable();
    let new_rs = &plan.rss[new];
    let new_unavailable = new_rs.replicas() - new_rs.kept_available();
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return false;
    }
    old.sort_by(|a, b| by_creation(&plan.rss[*a], &plan.rss[*b]));
    let cleaned = cleanup_unhealthy(plan, &old, max_scaled_down);
    let scaled = scale_down_old(plan, &old, min_available);
    cleaned + scaled > 0
}

/// `cleanupUnhealthyReplicas`: old ReplicaSets lose their unavailable replicas first
/// (scaling them away costs no availability), at most `max` in all.
fn cleanup_unhealthy(plan: &mut Plan<'_>, old: &[usize], max: i64) -> i64 {
    let mut total = 0;
    for &i in old {
        if total >= max {
            break;
        }
        let rs = &plan.rss[i];
        let replicas = rs.replicas();
        let unhealthy = replicas - rs.kept_available();
        if replicas == 0 || unhealthy == 0 {
            continue;
        }
        let count = (max - total).min(unhealthy);
        plan.scale(i, replicas - count);
        total += count;
    }
    total
}

/// `scaleDownOldReplicaSetsForRollingUpdate`: old ReplicaSets, oldest first, scaled down
/// by the available pods above `min_available`.
fn scale_down_old(plan: &mut Plan<'_>, old: &[usize], min_available: i64) -> i64 {
    let available: i64 = plan.rss.iter().map(|rs| rs.kept_available()).sum();
    if available <= min_available {
        return 0;
    }
    let wanted = available - min_available;
    let mut total = 0;
    for &i in old {
        if total >= wanted {
            break;
        }
        let replicas = plan.rss[i].replicas();
        if replicas == 0 {
            continue;
        }
        let count = replicas.min(wanted - total);
        plan.scale(i, replicas - count);
        total += count;
    }
    total
}
