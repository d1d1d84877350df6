//! Dependents whose owners are gone, re-created, kept or waiting (Kubernetes'
//! `attemptToDeleteItem`; "Owners and dependents" and "Background cascading deletion" in
//! <https://kubernetes.io/docs/concepts/architecture/garbage-collection/>).

use keel_sdk::controller::testing::FakeView;
use keel_sdk::controller::{ObjectRef, Reconciler};
use serde_json::json;

use super::cluster::Cluster;
use super::fixtures::*;
use crate::finalizers::{FOREGROUND_DELETION, ORPHAN};

#[test]
fn a_gone_object_needs_nothing() -> Result<(), String> {
    let key = ObjectRef::new("", "Pod", "default", "p1");
    let result = collector()
        .reconcile(&FakeView::new(), &key, None)
        .map_err(|e| e.message)?;
    assert!(result.actions.is_empty());
    assert_eq!(result.requeue_after_millis, None);
    Ok(())
}

#[test]
fn background_cascade_deletes_a_pod_whose_replicaset_is_gone() {
    let rs = replica_set("web", "rs-1");
    let pod = owned_by(pod("web-a", "p-1"), &[reference_to(&rs, true)]);
    let result = reconcile(&view_of(&[&pod]), &pod);
    assert_eq!(
        lines(&result),
        ["delete Pod default/web-a uid=p-1 Background"]
    );
}

#[test]
fn an_object_without_owners_or_with_a_solid_owner_stays() {
    let rs = replica_set("web", "rs-1");
    let orphan = pod("lone", "p-0");
    let owned = owned_by(pod("web-a", "p-1"), &[reference_to(&rs, true)]);
    let view = view_of(&[&rs, &orphan, &owned]);
    assert!(reconcile(&view, &orphan).actions.is_empty());
    assert!(reconcile(&view, &owned).actions.is_empty());
}

#[test]
fn an_owner_recreated_under_a_new_uid_is_dangling() {
    // Kubernetes: a reference names an owner by uid; the same name with another uid is absent.
    let old = replica_set("web", "rs-old");
    let new = replica_set("web", "rs-new");
    let pod = owned_by(pod("web-a", "p-1"), &[reference_to(&old, true)]);
    let result = reconcile(&view_of(&[&new, &pod]), &pod);
    assert_eq!(
        lines(&result),
        ["delete Pod default/web-a uid=p-1 Background"]
    );
}

#[test]
fn a_solid_owner_keeps_the_object_which_loses_its_dangling_reference() {
    let kept = replica_set("kept", "rs-1");
    let gone = replica_set("gone", "rs-2");
    let pod = owned_by(
        pod("web-a", "p-1"),
        &[reference_to(&kept, true), reference_to(&gone, false)],
    );
    let result = reconcile(&view_of(&[&kept, &pod]), &pod);
    assert_eq!(lines(&result), ["update Pod default/web-a"]);
    let sent = updated(&result.actions[0]);
    assert_eq!(owner_uids(&sent), ["rs-1"]);
    assert_eq!(
        sent["metadata"]["resourceVersion"], "1",
        "guarded by what was read"
    );
}

#[test]
fn an_owner_of_a_kind_not_managed_counts_as_solid() {
    // The view holds managed kinds only; an unmanaged owner it lacks may well exist.
    let owner = object("example.com/v1", "Widget", "default", "w", "w-1");
    let node = object("v1", "Node", "", "n1", "n-1");
    let pod = owned_by(
        pod("web-a", "p-1"),
        &[reference_to(&owner, true), reference_to(&node, false)],
    );
    assert!(reconcile(&view_of(&[&pod]), &pod).actions.is_empty());
}

#[test]
fn an_unmanaged_solid_owner_still_lets_a_dangling_reference_go() {
    let owner = object("example.com/v1", "Widget", "default", "w", "w-1");
    let gone = replica_set("gone", "rs-2");
    let pod = owned_by(
        pod("web-a", "p-1"),
        &[reference_to(&owner, false), reference_to(&gone, false)],
    );
    let result = reconcile(&view_of(&[&pod]), &pod);
    assert_eq!(lines(&result), ["update Pod default/web-a"]);
    assert_eq!(owner_uids(&updated(&result.actions[0])), ["w-1"]);
}

#[test]
fn an_orphaned_object_is_deleted_with_the_propagation_its_finalizers_ask_for() {
    let gone = deployment("web", "d-1");
    let mut rs = owned_by(replica_set("web-1", "rs-1"), &[reference_to(&gone, true)]);
    rs["metadata"]["finalizers"] = json!([ORPHAN]);
    let result = reconcile(&view_of(&[&rs]), &rs);
    assert_eq!(
        lines(&result),
        ["delete ReplicaSet default/web-1 uid=rs-1 Orphan"]
    );
    rs["metadata"]["finalizers"] = json!([FOREGROUND_DELETION]);
    let result = reconcile(&view_of(&[&rs]), &rs);
    assert_eq!(
        lines(&result),
        ["delete ReplicaSet default/web-1 uid=rs-1 Foreground"]
    );
}

#[test]
fn an_object_being_deleted_is_left_to_its_finalizers() {
    // "being deleted" is a one-way trip in Kubernetes' collector.
    let gone = replica_set("web", "rs-1");
    let pod = deleting(
        owned_by(pod("web-a", "p-1"), &[reference_to(&gone, true)]),
        &["example.com/cleanup"],
    );
    assert!(reconcile(&view_of(&[&pod]), &pod).actions.is_empty());
}

#[test]
fn a_solid_owner_keeps_the_object_from_an_owner_waiting_for_dependents() {
    // The reference to the waiting owner goes, or that owner would wait forever.
    let kept = replica_set("kept", "rs-1");
    let waiting = deleting(replica_set("going", "rs-2"), &[FOREGROUND_DELETION]);
    let pod = owned_by(
        pod("web-a", "p-1"),
        &[reference_to(&kept, false), reference_to(&waiting, true)],
    );
    let result = reconcile(&view_of(&[&kept, &waiting, &pod]), &pod);
    assert_eq!(lines(&result), ["update Pod default/web-a"]);
    assert_eq!(owner_uids(&updated(&result.actions[0])), ["rs-1"]);
}

#[test]
fn a_dependent_of_a_waiting_owner_goes_in_the_foreground_only_if_it_has_dependents() {
    let waiting = deleting(deployment("web", "d-1"), &[FOREGROUND_DELETION]);
    let rs = owned_by(
        replica_set("web-1", "rs-1"),
        &[reference_to(&waiting, true)],
    );
    let leaf = view_of(&[&waiting, &rs]);
    assert_eq!(
        lines(&reconcile(&leaf, &rs)),
        ["delete ReplicaSet default/web-1 uid=rs-1 Background"]
    );
    let pod = owned_by(pod("web-1-a", "p-1"), &[reference_to(&rs, true)]);
    let parent = view_of(&[&waiting, &rs, &pod]);
    assert_eq!(
        lines(&reconcile(&parent, &rs)),
        ["delete ReplicaSet default/web-1 uid=rs-1 Foreground"]
    );
}

#[test]
fn a_foreground_cycle_is_broken_by_unblocking_the_owner_references() {
    // Kubernetes: when an object's owner and one of its dependents both wait for their
    // dependents, its references stop blocking before it is deleted in the foreground.
    let waiting = deleting(deployment("a", "d-1"), &[FOREGROUND_DELETION]);
    let rs = owned_by(replica_set("b", "rs-1"), &[reference_to(&waiting, true)]);
    let dependent = deleting(
        owned_by(replica_set("c", "rs-2"), &[reference_to(&rs, true)]),
        &[FOREGROUND_DELETION],
    );
    let result = reconcile(&view_of(&[&waiting, &rs, &dependent]), &rs);
    assert_eq!(
        lines(&result),
        [
            "update ReplicaSet default/b",
            "delete ReplicaSet default/b uid=rs-1 Foreground"
        ]
    );
    let sent = updated(&result.actions[0]);
    assert_eq!(
        sent["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
        false
    );
}

#[test]
fn a_background_cascade_runs_down_the_tree_and_then_rests() {
    // Deployment deleted in the background: its ReplicaSet goes, then the pods.
    let d = deployment("web", "d-1");
    let rs = owned_by(replica_set("web-1", "rs-1"), &[reference_to(&d, true)]);
    let a = owned_by(pod("web-1-a", "p-1"), &[reference_to(&rs, true)]);
    let b = owned_by(pod("web-1-b", "p-2"), &[reference_to(&rs, true)]);
    let other = pod("unrelated", "p-3");
    let mut cluster = Cluster::new(&[&rs, &a, &b, &other]);
    assert_eq!(cluster.settle(), 3);
    assert!(cluster.get("ReplicaSet", "web-1").is_none());
    assert!(cluster.get("Pod", "web-1-a").is_none());
    assert!(cluster.get("Pod", "web-1-b").is_none());
    assert!(cluster.get("Pod", "unrelated").is_some());
    // Idempotent: nothing more to do once settled.
    assert_eq!(cluster.settle(), 0);
}
