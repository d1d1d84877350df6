//! Revision history (Kubernetes' `cleanupDeployment`): beyond `revisionHistoryLimit` old
//! ReplicaSets, the lowest revisions are deleted, but only those scaled to zero in spec
//! and status, whose status is current and that are not already being deleted.

use crate::plan::Plan;
use crate::replicasets::by_revision;

/// Deletes the old ReplicaSets beyond the history limit.
pub fn cleanup(plan: &mut Plan<'_>) {
    let Some(limit) = plan.d.revision_history_limit else {
        return;
    };
    let mut cleanable: Vec<usize> = plan
        .old()
        .into_iter()
        .filter(|i| !plan.rss[*i].is_deleting())
        .collect();
    let excess = cleanable
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    if excess == 0 {
        return;
    }
    cleanable.sort_by(|a, b| by_revision(&plan.rss[*a], &plan.rss[*b]));
    for i in cleanable.into_iter().take(excess) {
        let rs = &plan.rss[i];
        if rs.status_replicas() != 0
            || rs.replicas() != 0
            || rs.generation() > rs.observed_generation()
        {
            continue;
        }
        plan.deletes.push(rs.object.clone());
    }
}
