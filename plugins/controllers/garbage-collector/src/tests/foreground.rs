//! Foreground deletion: dependents go first, and the owner's `foregroundDeletion` finalizer
//! only when no dependent with `blockOwnerDeletion: true` remains ("Foreground cascading
//! deletion" in <https://kubernetes.io/docs/concepts/architecture/garbage-collection/>;
//! Kubernetes' `processDeletingDependentsItem`).

use serde_json::json;

use super::cluster::Cluster;
use super::fixtures::*;
use crate::finalizers::FOREGROUND_DELETION;
use crate::foreground::RECHECK_MILLIS;

#[test]
fn the_owner_deletes_its_dependents_and_waits_for_the_blocking_ones() {
    let rs = deleting(replica_set("web", "rs-1"), &[FOREGROUND_DELETION]);
    let blocking = owned_by(pod("web-a", "p-1"), &[reference_to(&rs, true)]);
    let free = owned_by(pod("web-b", "p-2"), &[reference_to(&rs, false)]);
    let result = reconcile(&view_of(&[&rs, &blocking, &free]), &rs);
    assert_eq!(
        lines(&result),
        [
            "delete Pod default/web-a uid=p-1 Background",
            "delete Pod default/web-b uid=p-2 Background",
        ]
    );
    assert_eq!(result.requeue_after_millis, Some(RECHECK_MILLIS));
}

#[test]
fn a_dependent_already_being_deleted_is_waited_for_not_deleted_again() {
    let rs = deleting(replica_set("web", "rs-1"), &[FOREGROUND_DELETION]);
    let going = deleting(
        owned_by(pod("web-a", "p-1"), &[reference_to(&rs, true)]),
        &[FOREGROUND_DELETION],
    );
    let result = reconcile(&view_of(&[&rs, &going]), &rs);
    assert!(result.actions.is_empty(), "{:?}", lines(&result));
    assert_eq!(result.requeue_after_millis, Some(RECHECK_MILLIS));
}

#[test]
fn only_non_blocking_dependents_left_lets_the_finalizer_go() {
    let rs = deleting(
        replica_set("web", "rs-1"),
        &[FOREGROUND_DELETION, "example.com/keep"],
    );
    let free = deleting(
        owned_by(pod("web-b", "p-2"), &[reference_to(&rs, false)]),
        &["example.com/slow"],
    );
    let result = reconcile(&view_of(&[&rs, &free]), &rs);
    assert_eq!(lines(&result), ["update ReplicaSet default/web"]);
    let owner = updated(&result.actions[0]);
    assert_eq!(owner["metadata"]["finalizers"], json!(["example.com/keep"]));
    assert_eq!(result.requeue_after_millis, None);
}

#[test]
fn a_dependent_kept_by_another_owner_is_released_not_deleted() {
    let rs = deleting(replica_set("web", "rs-1"), &[FOREGROUND_DELETION]);
    let other = replica_set("other", "rs-2");
    let shared = owned_by(
        pod("shared", "p-1"),
        &[reference_to(&rs, true), reference_to(&other, false)],
    );
    let result = reconcile(&view_of(&[&rs, &other, &shared]), &rs);
    assert_eq!(lines(&result), ["update Pod default/shared"]);
    assert_eq!(owner_uids(&updated(&result.actions[0])), ["rs-2"]);
}

#[test]
fn a_foreground_cascade_removes_the_whole_tree() {
    let d = deleting(deployment("web", "d-1"), &[FOREGROUND_DELETION]);
    let rs = owned_by(replica_set("web-1", "rs-1"), &[reference_to(&d, true)]);
    let a = owned_by(pod("web-1-a", "p-1"), &[reference_to(&rs, true)]);
    let b = owned_by(pod("web-1-b", "p-2"), &[reference_to(&rs, false)]);
    let mut cluster = Cluster::new(&[&d, &rs, &a, &b]);
    cluster.settle();
    for (kind, name) in [
        ("Deployment", "web"),
        ("ReplicaSet", "web-1"),
        ("Pod", "web-1-a"),
        ("Pod", "web-1-b"),
    ] {
        assert!(cluster.get(kind, name).is_none(), "{kind} {name} remains");
    }
    assert_eq!(cluster.settle(), 0);
}

#[test]
fn the_owner_stays_while_a_blocking_dependent_cannot_go() {
    // A dependent held by another finalizer keeps a foreground-deleted owner.
    let rs = deleting(replica_set("web", "rs-1"), &[FOREGROUND_DELETION]);
    let held = deleting(
        owned_by(pod("web-a", "p-1"), &[reference_to(&rs, true)]),
        &["example.com/slow"],
    );
    let mut cluster = Cluster::new(&[&rs, &held]);
    assert_eq!(cluster.settle(), 0);
    assert!(cluster.get("ReplicaSet", "web").is_some());
}
