//! Owning pods (ClaimPods): adopting matching orphans, releasing pods that no longer match,
//! leaving other controllers' pods alone, and a ReplicaSet being deleted or gone.

use keel_sdk::controller::{PluginError, Reconciler};
use serde_json::json;

use super::*;

/// "A ReplicaSet ... can also acquire Pods that match its selector and have no
/// ownerReference": the orphan gets a controller reference and counts as owned.
#[test]
fn adopts_a_matching_orphan() -> Result<(), PluginError> {
    let rs = settled(replica_set(2), 1, 1, 1);
    let result = reconcile(&view(&rs, &[orphan(pod("a")), pod("b")]), &rs)?;
    assert_eq!(kinds(&result), ["update", "status"]);
    let adopted = updated(&result);
    let mut expected = pod("a");
    expected["metadata"]["ownerReferences"] = pod("b")["metadata"]["ownerReferences"].clone();
    assert_eq!(adopted, [expected]);
    assert_eq!(
        written_status(&result).map(|s| s["replicas"].clone()),
        Some(json!(2))
    );
    Ok(())
}

/// Adopting keeps the pod's other owners, and turns a non-controller reference to this
/// ReplicaSet into the controller reference (the patch merges references by uid).
#[test]
fn adoption_keeps_other_owners_and_replaces_a_reference_to_itself() -> Result<(), PluginError> {
    let rs = settled(replica_set(1), 1, 1, 1);
    let mut pod = pod("a");
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "uid-cm"});
    pod["metadata"]["ownerReferences"] = json!([
        other,
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": RS_UID},
    ]);
    let result = reconcile(&view(&rs, &[pod]), &rs)?;
    let adopted = updated(&result);
    assert_eq!(adopted.len(), 1);
    assert_eq!(
        adopted[0]["metadata"]["ownerReferences"],
        json!([other, {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                       "uid": RS_UID, "controller": true, "blockOwnerDeletion": true}])
    );
    assert!(created(&result).is_empty());
    Ok(())
}

/// Only active, matching orphans are adopted: not finished pods, pods being deleted, or
/// pods the selector does not match.
#[test]
fn does_not_adopt_inactive_or_unmatched_orphans() -> Result<(), PluginError> {
    let rs = settled(replica_set(1), 0, 0, 0);
    let mut finished = orphan(pod("a"));
    finished["status"]["phase"] = json!("Succeeded");
    let terminating = deleting(orphan(pod("b")));
    let mut unmatched = orphan(pod("c"));
    unmatched["metadata"]["labels"] = json!({"app": "db"});
    let result = reconcile(&view(&rs, &[finished, terminating, unmatched]), &rs)?;
    assert!(updated(&result).is_empty());
    assert_eq!(created(&result).len(), 1);
    Ok(())
}

/// "If [a Pod] has an ownerReference to another controller, it is not acquired": even one
/// naming a ReplicaSet of the same name with another uid (a re-created one).
#[test]
fn does_not_adopt_a_pod_another_controller_owns() -> Result<(), PluginError> {
    let rs = settled(replica_set(1), 0, 0, 0);
    let mut stale = pod("a");
    stale["metadata"]["ownerReferences"][0]["uid"] = json!("uid-web-before");
    let mut foreign = pod("b");
    foreign["metadata"]["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "Job",
        "name": "j", "uid": "uid-job", "controller": true}]);
    let result = reconcile(&view(&rs, &[stale, foreign]), &rs)?;
    assert!(updated(&result).is_empty());
    assert!(deleted(&result).is_empty());
    assert_eq!(created(&result).len(), 1);
    Ok(())
}

/// "You can remove Pods from a ReplicaSet by changing their labels": a controlled pod the
/// selector no longer matches is released (its reference removed, other owners kept) and
/// replaced.
#[test]
fn releases_a_pod_whose_labels_no_longer_match() -> Result<(), PluginError> {
    let rs = settled(replica_set(1), 1, 1, 1);
    let mut relabelled = pod("a");
    relabelled["metadata"]["labels"] = json!({"app": "debug"});
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "uid-cm"});
    let controller_ref = relabelled["metadata"]["ownerReferences"][0].clone();
    relabelled["metadata"]["ownerReferences"] = json!([controller_ref, other]);
    let result = reconcile(&view(&rs, &[relabelled.clone()]), &rs)?;
    assert_eq!(kinds(&result), ["update", "status", "create"]);
    let mut expected = relabelled;
    expected["metadata"]["ownerReferences"] = json!([other]);
    assert_eq!(updated(&result), [expected]);
    assert_eq!(
        written_status(&result).map(|s| s["replicas"].clone()),
        Some(json!(0))
    );
    Ok(())
}

/// ClaimPods runs on active pods only: a finished pod that no longer matches keeps its
/// reference.
#[test]
fn does_not_release_finished_pods() -> Result<(), PluginError> {
    let rs = settled(replica_set(0), 0, 0, 0);
    let mut finished = pod("a");
    finished["metadata"]["labels"] = json!({"app": "debug"});
    finished["status"]["phase"] = json!("Failed");
    let result = reconcile(&view(&rs, &[finished]), &rs)?;
    assert!(result.actions.is_empty(), "{:?}", result.actions);
    Ok(())
}

/// A ReplicaSet being deleted creates, deletes, adopts and releases nothing
/// (`rs.DeletionTimestamp == nil` guards manageReplicas; ClaimPods neither adopts nor
/// releases for a deleting controller), but its status is still kept.
#[test]
fn a_deleting_replica_set_only_keeps_its_status() -> Result<(), PluginError> {
    let mut rs = settled(replica_set(3), 0, 0, 0);
    rs["metadata"]["deletionTimestamp"] = json!(at(5));
    let mut relabelled = pod("b");
    relabelled["metadata"]["labels"] = json!({"app": "debug"});
    let pods = [pod("a"), relabelled, orphan(pod("c"))];
    let result = reconcile(&view(&rs, &pods), &rs)?;
    assert_eq!(kinds(&result), ["status"]);
    assert_eq!(
        written_status(&result).map(|s| s["replicas"].clone()),
        Some(json!(1))
    );

    let mut rs = settled(replica_set(0), 1, 1, 1);
    rs["metadata"]["deletionTimestamp"] = json!(at(5));
    let result = reconcile(&view(&rs, &[pod("a")]), &rs)?;
    assert!(result.actions.is_empty());
    Ok(())
}

/// A ReplicaSet that is gone needs nothing (its pods go through the garbage collector).
#[test]
fn a_deleted_replica_set_needs_nothing() -> Result<(), PluginError> {
    let controller = crate::ReplicaSetController::new("null")?;
    let key = ObjectRef::new("apps", "ReplicaSet", NS, "web");
    let result = controller.reconcile(&view(&replica_set(1), &[pod("a")]), &key, None)?;
    assert!(result.actions.is_empty());
    assert_eq!(result.requeue_after_millis, None);
    Ok(())
}
