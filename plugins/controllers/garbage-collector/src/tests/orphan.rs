//! Orphan deletion: dependents lose their reference, then the `orphan` finalizer goes
//! ("Orphaned dependents" in
//! <https://kubernetes.io/docs/concepts/architecture/garbage-collection/>; Kubernetes'
//! `attemptToOrphan`).

use serde_json::json;

use super::cluster::Cluster;
use super::fixtures::*;
use crate::finalizers::ORPHAN;

#[test]
fn dependents_are_released_before_the_orphan_finalizer_goes() {
    let rs = deleting(replica_set("web", "rs-1"), &["example.com/keep", ORPHAN]);
    let other = replica_set("other", "rs-2");
    let a = owned_by(pod("web-a", "p-1"), &[reference_to(&rs, true)]);
    let b = owned_by(
        pod("web-b", "p-2"),
        &[reference_to(&rs, true), reference_to(&other, false)],
    );
    let stranger = owned_by(pod("x", "p-3"), &[reference_to(&other, true)]);
    let result = reconcile(&view_of(&[&rs, &other, &a, &b, &stranger]), &rs);
    assert_eq!(
        lines(&result),
        [
            "update Pod default/web-a",
            "update Pod default/web-b",
            "update ReplicaSet default/web",
        ]
    );
    let released_a = updated(&result.actions[0]);
    assert!(released_a["metadata"].get("ownerReferences").is_none());
    assert_eq!(owner_uids(&updated(&result.actions[1])), ["rs-2"]);
    // Only `orphan` is removed: other finalizers stay.
    let owner = updated(&result.actions[2]);
    assert_eq!(owner["metadata"]["finalizers"], json!(["example.com/keep"]));
}

#[test]
fn an_owner_without_dependents_just_drops_the_finalizer() {
    let rs = deleting(replica_set("web", "rs-1"), &[ORPHAN]);
    let result = reconcile(&view_of(&[&rs]), &rs);
    assert_eq!(lines(&result), ["update ReplicaSet default/web"]);
    assert_eq!(
        updated(&result.actions[0])["metadata"]["finalizers"],
        json!([])
    );
}

#[test]
fn orphaned_pods_survive_their_deleted_replicaset() {
    let rs = deleting(replica_set("web", "rs-1"), &[ORPHAN]);
    let a = owned_by(pod("web-a", "p-1"), &[reference_to(&rs, true)]);
    let mut cluster = Cluster::new(&[&rs, &a]);
    cluster.settle();
    assert!(cluster.get("ReplicaSet", "web").is_none());
    let pod = cluster.get("Pod", "web-a").cloned().unwrap_or_default();
    assert!(owner_uids(&pod).is_empty());
    assert_eq!(cluster.settle(), 0);
}

#[test]
fn a_cluster_scoped_owner_releases_dependents_in_every_namespace() {
    let gc = collector_with(
        r#"{"kinds": [{"group": "", "kind": "Pod"},
                      {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"}]}"#,
    );
    let role = deleting(
        object(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "",
            "r",
            "cr-1",
        ),
        &[ORPHAN],
    );
    let a = owned_by(pod("a", "p-1"), &[reference_to(&role, false)]);
    let b = owned_by(
        object("v1", "Pod", "other", "b", "p-2"),
        &[reference_to(&role, false)],
    );
    let view = view_of(&[&role, &a, &b]);
    let result = reconcile_with(&gc, &view, &role);
    assert_eq!(
        lines(&result),
        [
            "update Pod default/a",
            "update Pod other/b",
            "update ClusterRole r",
        ]
    );
}
