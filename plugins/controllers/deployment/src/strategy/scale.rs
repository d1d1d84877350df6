//! Scaling without a rollout (Kubernetes' `sync` and `scale`): while paused, or when the
//! desired replicas changed (`isScalingEvent`: an active ReplicaSet's `desired-replicas`
//! annotation differs from `spec.replicas`), the only active ReplicaSet takes the new
//! count; a saturated new ReplicaSet has the old ones scaled to zero; otherwise a rolling
//! Deployment's replicas + maxSurge are shared among its active ReplicaSets in proportion
//! to their sizes, leftovers going to the largest.

use crate::annotations;
use crate::history;
use crate::plan::Plan;
use crate::replicasets::{by_creation, by_size_newer, by_size_older};
use crate::status;

/// `sync`: scale, clean up old ReplicaSets when `cleanup` (a paused Deployment), and
/// compute the status without estimating progress.
pub fn sync(plan: &mut Plan<'_>, cleanup: bool) {
    scale(plan);
    if cleanup {
        history::cleanup(plan);
    }
    status::calculate(plan);
}

/// `isScalingEvent`: whether an active ReplicaSet was last scaled for another replica count.
pub fn is_scaling_event(plan: &Plan<'_>) -> bool {
    plan.rss.iter().any(|rs| {
        rs.replicas() > 0
            && annotations::desired_replicas(rs).is_some_and(|desired| desired != plan.d.replicas)
    })
}

/// `scale`.
fn scale(plan: &mut Plan<'_>) {
    let d = plan.d;
    let new = plan.new;
    let mut active: Vec<usize> = plan.active_old();
    if let Some(i) = new.filter(|i| plan.rss[*i].replicas() > 0) {
        active.push(i);
    }
    let target = match active.as_slice() {
        [] => new.or_else(|| {
            let mut old = plan.old();
            old.sort_by(|a, b| by_creation(&plan.rss[*b], &plan.rss[*a]));
            old.first().copied()
        }),
        [one] => Some(*one),
        _ => None,
    };
    if let Some(i) = target {
        if plan.rss[i].replicas() != d.replicas {
            plan.scale(i, d.replicas);
        }
        return;
    }
    if new.is_some_and(|i| is_saturated(plan, i)) {
        for i in plan.active_old() {
            plan.scale(i, 0);
        }
        return;
    }
    if !d.is_rolling_update() {
        return;
    }
    let current: i64 = active.iter().map(|i| plan.rss[*i].replicas()).sum();
    let allowed = if d.replicas > 0 {
        d.replicas + d.max_surge()
    } else {
        0
    };
    let to_add = allowed - current;
    if to_add > 0 {
        active.sort_by(|a, b| by_size_newer(&plan.rss[*a], &plan.rss[*b]));
    } else if to_add < 0 {
        active.sort_by(|a, b| by_size_older(&plan.rss[*a], &plan.rss[*b]));
    }
    let mut added = 0;
    let mut sizes = Vec::with_capacity(active.len());
    for i in &active {
        let replicas = plan.rss[*i].replicas();
        let proportion = if to_add != 0 {
            proportion(plan, *i, to_add, added)
        } else {
            0
        };
        added += proportion;
        sizes.push(replicas + proportion);
    }
    if let Some(first) = sizes.first_mut()
        && to_add != 0
    {
        *first = (*first + to_add - added).max(0);
    }
    for (i, size) in active.into_iter().zip(sizes) {
        plan.scale(i, size);
    }
}

/// `IsSaturated`: the new ReplicaSet has, wants and has available the desired replicas.
fn is_saturated(plan: &Plan<'_>, i: usize) -> bool {
    let rs = &plan.rss[i];
    let desired = plan.d.replicas;
    annotations::desired_replicas(rs) == Some(desired)
        && rs.replicas() == desired
        && rs.available_replicas() == desired
}

/// `GetReplicaSetProportion`: ReplicaSet `i`'s share of `to_add`, of which `added` is
/// already given out, never beyond what is left.
fn proportion(plan: &Plan<'_>, i: usize, to_add: i64, added: i64) -> i64 {
    let rs = &plan.rss[i];
    if rs.replicas() == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(plan, i);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `getReplicaSetFraction`: how ReplicaSet `i` grows or shrinks when the Deployment's
/// replicas + maxSurge go from what its `max-replicas` annotation says (or else the
/// Deployment's status replicas) to the current value.
fn fraction(plan: &Plan<'_>, i: usize) -> i64 {
    let d = plan.d;
    let rs = &plan.rss[i];
    if d.replicas == 0 {
        return -rs.replicas();
    }
    let max_now = d.replicas + d.max_surge();
    let before = annotations::max_replicas(rs)
        .filter(|m| *m != 0)
        .unwrap_or_else(|| status::read_counts(plan).replicas);
    if before == 0 {
        return 0;
    }
    let size = ((rs.replicas() as f64) * (max_now as f64) / (before as f64)).round() as i64;
    size - rs.replicas()
}
