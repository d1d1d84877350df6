//! The new ReplicaSet: the one whose template is the Deployment's (`FindNewReplicaSet`),
//! its revision (`getNewReplicaSet`: one more than every old ReplicaSet's, raised when a
//! rollback makes an old ReplicaSet new again), and its creation as
//! `<deployment>-<pod-template-hash>` with the hash in its labels, selector and template;
//! a name taken by another ReplicaSet is a hash collision, which bumps
//! `status.collisionCount` so that the next reconcile tries another name.

use keel_sdk::controller::{PluginError, View, objects};
use keel_sdk::json::At;
use serde_json::{Value, json};

use crate::annotations::{self, REVISION};
use crate::conditions::{self, FOUND_NEW_RS, NEW_RS_CREATED, PROGRESSING};
use crate::deployment::Strategy;
use crate::hash::{POD_TEMPLATE_HASH, pod_template_hash};
use crate::plan::Plan;
use crate::replicasets::{ReplicaSet, by_creation};
use crate::template::{equal_ignore_hash, with_hash_label};

/// What getting the new ReplicaSet came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewReplicaSet {
    /// There is one (found or created).
    Present,
    /// There is none and none was to be created.
    Absent,
    /// Its name is taken: `status.collisionCount` was bumped, nothing else is to be done.
    Collision,
}

/// Finds the new ReplicaSet among the owned ones (the oldest whose template equals the
/// Deployment's but for the hash label) and syncs its revision and annotations.
pub fn find_and_sync(plan: &mut Plan<'_>) {
    let mut candidates: Vec<usize> = (0..plan.rss.len())
        .filter(|i| equal_ignore_hash(plan.rss[*i].template(), &plan.d.template))
        .collect();
    candidates.sort_by(|a, b| by_creation(&plan.rss[*a], &plan.rss[*b]));
    plan.new = candidates.first().copied();
    let Some(i) = plan.new else {
        return;
    };
    let new_revision = max_old_revision(plan) + 1;
    let d = plan.d;
    let rs = &mut plan.rss[i];
    let mut changed = annotations::set_new_replica_set_annotations(
        &d.annotations(),
        rs,
        new_revision,
        true,
        d.replicas,
        d.replicas + d.max_surge(),
    );
    let min_ready = rs
        .object
        .at("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if min_ready != d.min_ready_seconds {
        if let Some(spec) = rs.object.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("minReadySeconds".into(), json!(d.min_ready_seconds));
        }
        changed = true;
    }
    let revision = rs.annotation(REVISION).map(str::to_string);
    let name = rs.name().to_string();
    if changed {
        plan.touch(i);
    }
    if let Some(revision) = revision {
        plan.set_revision(&revision);
    }
    if d.progress_deadline_seconds.is_some()
        && objects::condition(&plan.deployment, PROGRESSING).is_none()
    {
        let message = format!("Found new replica set {name:?}");
        conditions::set(plan, PROGRESSING, "True", FOUND_NEW_RS, &message);
    }
}

/// `MaxRevision` of the old ReplicaSets (unreadable revisions skipped).
pub fn max_old_revision(plan: &Plan<'_>) -> i64 {
    plan.old()
        .into_iter()
        .filter_map(|i| plan.rss[i].revision())
        .max()
        .unwrap_or(0)
}

/// The new ReplicaSet, created when there is none: with the replicas the strategy allows
/// at once, the next revision, and a `NewReplicaSetCreated` Progressing condition.
pub fn find_or_create(plan: &mut Plan<'_>, view: &dyn View) -> Result<NewReplicaSet, PluginError> {
    if plan.new.is_some() {
        return Ok(NewReplicaSet::Present);
    }
    let d = plan.d;
    let collision_count = plan.status().get("collisionCount").and_then(Value::as_i64);
    let hash = pod_template_hash(&d.template, collision_count);
    let name = format!("{}-{hash}", d.name);
    if let Some(existing) = view.get("apps", "ReplicaSet", &d.namespace, &name) {
        let ours = objects::controller_ref(&existing).is_some_and(|r| r.uid == d.uid);
        let same = existing
            .at("/spec/template")
            .is_some_and(|t| equal_ignore_hash(t, &d.template));
        if ours && same {
            // Ours but not selected any more: released this time, so wait for that.
            return Ok(NewReplicaSet::Absent);
        }
        let mut status = plan.status().clone();
        if !status.is_object() {
            status = json!({});
        }
        status["collisionCount"] = json!(collision_count.unwrap_or(0) + 1);
        plan.set_status(status);
        return Ok(NewReplicaSet::Collision);
    }
    let template = with_hash_label(&d.template, &hash);
    let labels = template
        .at("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut selector = d.selector_json.clone();
    if let Some(selector) = selector.as_object_mut() {
        let match_labels = selector.entry("matchLabels").or_insert_with(|| json!({}));
        if !match_labels.is_object() {
            *match_labels = json!({});
        }
        match_labels[POD_TEMPLATE_HASH] = json!(hash);
    }
    let object = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": d.namespace,
            "labels": labels,
            "ownerReferences": [objects::controller_reference("apps/v1", "Deployment", &d.object)],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": d.min_ready_seconds,
            "selector": selector,
            "template": template,
        },
    });
    let new_revision = max_old_revision(plan) + 1;
    let i = plan.add_created(ReplicaSet {
        original: None,
        object,
    });
    let replicas = new_replicas(plan, i);
    let rs = &mut plan.rss[i];
    rs.set_replicas(replicas);
    annotations::set_new_replica_set_annotations(
        &d.annotations(),
        rs,
        new_revision,
        false,
        d.replicas,
        d.replicas + d.max_surge(),
    );
    plan.set_revision(&new_revision.to_string());
    if d.progress_deadline_seconds.is_some() {
        let message = format!("Created new replica set {name:?}");
        conditions::set(plan, PROGRESSING, "True", NEW_RS_CREATED, &message);
    }
    Ok(NewReplicaSet::Present)
}

/// `NewRSNewReplicas`: the size the new ReplicaSet `i` may have now. A rolling update adds
/// pods only while every ReplicaSet's pods stay within replicas + maxSurge (counting, for
/// each ReplicaSet, the larger of its spec and its status, so that pods of a ReplicaSet
/// just scaled down count until they are gone), and never beyond the desired replicas;
/// Recreate takes the desired replicas at once.
pub fn new_replicas(plan: &Plan<'_>, i: usize) -> i64 {
    let d = plan.d;
    let current = plan.rss[i].replicas();
    match d.strategy {
        Strategy::Recreate => d.replicas,
        Strategy::RollingUpdate { max_surge, .. } => {
            let max_total = d.replicas + max_surge;
            let pods: i64 = plan.rss.iter().map(ReplicaSet::pods_at_most).sum();
            if pods >= max_total {
                return current;
            }
            let scale_up = (max_total - pods).min(d.replicas - current);
            current + scale_up.max(0)
        }
    }
}
