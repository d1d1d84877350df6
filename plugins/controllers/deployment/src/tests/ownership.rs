//! ReplicaSet ownership (ClaimReplicaSets): orphans the selector matches are adopted,
//! owned ReplicaSets it stops matching are released, others' are left alone; a name
//! taken by another's ReplicaSet is a hash collision.

use keel_sdk::controller::objects;
use serde_json::{Value, json};

use super::cluster::{Cluster, created, deployment, status_written, updated};
use crate::hash::pod_template_hash;
use crate::template::with_hash_label;

/// A ReplicaSet `name` running `template` with the Deployment's labels plus the hash.
fn replica_set(name: &str, template: &Value, owner: Option<&Value>) -> Value {
    let hash = pod_template_hash(template, None);
    let template = with_hash_label(template, &hash);
    let mut rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "labels": template["metadata"]["labels"].clone()},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": template["metadata"]["labels"].clone()},
            "template": template,
        },
    });
    if let Some(owner) = owner {
        rs["metadata"]["ownerReferences"] = json!([objects::controller_reference(
            "apps/v1",
            "Deployment",
            owner
        )]);
    }
    rs
}

/// An orphan ReplicaSet the selector matches is adopted; with the Deployment's template
/// it is the new ReplicaSet, so nothing is created.
#[test]
fn a_matching_orphan_is_adopted() -> Result<(), String> {
    let d = deployment(2, "nginx:1");
    let mut cluster = Cluster::with(d.clone())?;
    cluster.create(replica_set("orphan", &d["spec"]["template"], None))?;
    let result = cluster.reconcile()?;
    assert!(created(&result).is_empty(), "{:?}", result.actions);
    let adopted = updated(&result);
    assert_eq!(adopted.len(), 1);
    let owner = objects::controller_ref(&adopted[0]).ok_or("no controller reference")?;
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Deployment", "uid-1")
    );
    assert_eq!(owner.api_version, "apps/v1");
    Ok(())
}

/// An owned ReplicaSet whose labels no longer match is released (its reference removed),
/// and no longer counts as the Deployment's.
#[test]
fn an_owned_replica_set_that_stops_matching_is_released() -> Result<(), String> {
    let mut cluster = Cluster::with(deployment(2, "nginx:1"))?;
    cluster.settle()?;
    let mut rs = cluster.replica_sets().pop().ok_or("no rs")?;
    rs["metadata"]["labels"]["app"] = json!("debug");
    cluster.apply(&keel_sdk::controller::Action::update(&rs))?;
    let result = cluster.reconcile()?;
    let released = updated(&result);
    assert!(
        released
            .iter()
            .any(|r| r["metadata"]["name"] == rs["metadata"]["name"]
                && objects::controller_ref(r).is_none()),
        "{:?}",
        result.actions
    );
    // The Deployment makes a ReplicaSet of its own again (the released one's name is
    // taken: a collision first).
    cluster.step()?;
    for _ in 0..5 {
        cluster.step()?;
    }
    let owned = cluster
        .replica_sets()
        .iter()
        .filter(|r| objects::controller_ref(r).is_some())
        .count();
    assert_eq!(owned, 1);
    Ok(())
}

/// A ReplicaSet another controller owns is never touched, even if the selector matches.
#[test]
fn replica_sets_of_other_owners_are_left_alone() -> Result<(), String> {
    let d = deployment(2, "nginx:1");
    let mut cluster = Cluster::with(d.clone())?;
    let other = json!({"metadata": {"name": "other", "uid": "uid-other"}});
    cluster.create(replica_set("foreign", &d["spec"]["template"], Some(&other)))?;
    let result = cluster.reconcile()?;
    assert!(updated(&result).is_empty(), "{:?}", result.actions);
    assert_eq!(created(&result).len(), 1);
    Ok(())
}

/// ComputeHash collisions: when `<name>-<hash>` is taken by a ReplicaSet that is not the
/// Deployment's, status.collisionCount goes up and the next name is tried.
#[test]
fn a_taken_name_bumps_the_collision_count() -> Result<(), String> {
    let d = deployment(2, "nginx:1");
    let mut cluster = Cluster::with(d.clone())?;
    let hash = pod_template_hash(&d["spec"]["template"], None);
    let other = json!({"metadata": {"name": "other", "uid": "uid-other"}});
    let squatter = replica_set(
        &format!("web-{hash}"),
        &deployment(2, "busybox")["spec"]["template"],
        Some(&other),
    );
    cluster.create(squatter)?;
    let result = cluster.step()?;
    assert!(created(&result).is_empty());
    assert_eq!(
        status_written(&result).ok_or("no status")?["collisionCount"],
        1
    );
    let result = cluster.step()?;
    let new = created(&result);
    assert_eq!(new.len(), 1, "{:?}", result.actions);
    let hash1 = pod_template_hash(&d["spec"]["template"], Some(1));
    assert_eq!(new[0]["metadata"]["name"], format!("web-{hash1}"));
    Ok(())
}

/// Each object is written once per answer: adopting a ReplicaSet and scaling it in the
/// same reconcile is one update (a second would fail its resourceVersion precondition).
#[test]
fn adoption_and_scaling_are_one_write() -> Result<(), String> {
    let d = deployment(3, "nginx:1");
    let mut cluster = Cluster::with(d.clone())?;
    cluster.create(replica_set("orphan", &d["spec"]["template"], None))?;
    let result = cluster.reconcile()?;
    let writes = updated(&result);
    assert_eq!(writes.len(), 1, "{:?}", result.actions);
    assert_eq!(writes[0]["spec"]["replicas"], 3);
    assert!(objects::controller_ref(&writes[0]).is_some());
    for action in &result.actions {
        cluster.apply(action)?;
    }
    Ok(())
}

/// An orphan that is being deleted is not adopted.
#[test]
fn a_deleting_orphan_is_not_adopted() -> Result<(), String> {
    let d = deployment(2, "nginx:1");
    let mut cluster = Cluster::with(d.clone())?;
    let mut orphan = replica_set("orphan", &d["spec"]["template"], None);
    orphan["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    cluster.create(orphan)?;
    let result = cluster.reconcile()?;
    assert!(updated(&result).is_empty(), "{:?}", result.actions);
    assert_eq!(created(&result).len(), 1);
    Ok(())
}
