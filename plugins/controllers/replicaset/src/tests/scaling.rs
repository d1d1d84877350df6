//! Keeping `spec.replicas` pods: creating the missing ones from the template, deleting the
//! surplus in Kubernetes' order, at most `burstReplicas` per answer, and doing nothing at
//! the desired state.

use keel_sdk::controller::PluginError;
use serde_json::json;

use super::*;

/// "A ReplicaSet ... fulfills its purpose by creating and deleting Pods as needed to reach
/// the desired number", using its Pod template; created pods carry a controller reference.
#[test]
fn creates_the_missing_pods_from_the_template() -> Result<(), PluginError> {
    let rs = replica_set(3);
    let result = reconcile(&view(&rs, &[]), &rs)?;
    assert_eq!(kinds(&result), ["status", "create", "create", "create"]);
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-",
            "namespace": NS,
            "labels": {"app": "web"},
            "annotations": {"note": "from-template"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                 "uid": RS_UID, "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    });
    for pod in created(&result) {
        assert_eq!(pod, expected);
    }
    // The status counts what exists before these creations (calculateStatus).
    assert_eq!(
        written_status(&result),
        Some(json!({"replicas": 0, "observedGeneration": 1, "terminatingReplicas": 0}))
    );
    assert_eq!(result.requeue_after_millis, None);
    Ok(())
}

#[test]
fn creates_only_the_difference() -> Result<(), PluginError> {
    let rs = settled(replica_set(3), 1, 1, 1);
    let result = reconcile(&view(&rs, &[pod("a")]), &rs)?;
    assert_eq!(kinds(&result), ["create", "create"]);
    Ok(())
}

/// A reconcile over a view already at the desired state answers nothing (level-triggered,
/// idempotent).
#[test]
fn nothing_to_do_at_the_desired_state() -> Result<(), PluginError> {
    let rs = settled(replica_set(3), 3, 3, 3);
    let result = reconcile(&view(&rs, &[pod("a"), pod("b"), pod("c")]), &rs)?;
    assert!(result.actions.is_empty(), "{:?}", result.actions);
    assert_eq!(result.requeue_after_millis, None);
    Ok(())
}

/// `spec.replicas` defaults to 1.
#[test]
fn replicas_default_to_one() -> Result<(), PluginError> {
    let mut rs = replica_set(0);
    rs["spec"]["replicas"] = Value::Null;
    let result = reconcile(&view(&rs, &[]), &rs)?;
    assert_eq!(created(&result).len(), 1);
    Ok(())
}

/// kube-controller-manager's BurstReplicas: at most 500 creations per sync; the rest follow
/// on a prompt requeue.
#[test]
fn creations_are_capped_at_burst_replicas() -> Result<(), PluginError> {
    let rs = replica_set(600);
    let result = reconcile(&view(&rs, &[]), &rs)?;
    assert_eq!(created(&result).len(), 500);
    assert_eq!(
        result.requeue_after_millis,
        Some(crate::BURST_REQUEUE_MILLIS)
    );

    let rs = settled(replica_set(5), 1, 1, 1);
    let result = reconcile_with(r#"{"burstReplicas": 2}"#, &view(&rs, &[pod("a")]), &rs)?;
    assert_eq!(created(&result).len(), 2);
    assert_eq!(
        result.requeue_after_millis,
        Some(crate::BURST_REQUEUE_MILLIS)
    );
    Ok(())
}

/// Scaling down deletes the surplus, "Pending (and unschedulable) pods first", then
/// not-ready ones; each delete is guarded by the pod's uid.
#[test]
fn scales_down_unassigned_then_pending_then_not_ready() -> Result<(), PluginError> {
    let rs = settled(replica_set(2), 5, 4, 4);
    let mut unassigned = pod("e");
    unassigned["spec"]["nodeName"] = Value::Null;
    unassigned["status"]["phase"] = json!("Pending");
    let mut pending = pod("d");
    pending["status"]["phase"] = json!("Pending");
    let unready = not_ready(pod("c"));
    let pods = [pod("a"), pod("b"), unready, pending, unassigned];
    let result = reconcile(&view(&rs, &pods), &rs)?;
    assert_eq!(deleted(&result), ["e", "d", "c"]);
    assert_eq!(kinds(&result), ["delete", "delete", "delete"]);
    Ok(())
}

/// Among ready pods: lower pod-deletion-cost first, then the more recently ready, then the
/// more restarted, then the newer.
#[test]
fn scales_down_by_cost_then_ready_time_then_restarts_then_age() -> Result<(), PluginError> {
    let rs = settled(replica_set(1), 5, 5, 5);
    let mut cheap = pod("a");
    cheap["metadata"]["annotations"] = json!({"controller.kubernetes.io/pod-deletion-cost": "-10"});
    let mut recently_ready = pod("b");
    recently_ready["status"]["conditions"][0]["lastTransitionTime"] = json!(at(30));
    let mut restarted = pod("c");
    restarted["status"]["containerStatuses"] = json!([{"name": "web", "restartCount": 3}]);
    let mut newer = pod("d");
    newer["metadata"]["creationTimestamp"] = json!(at(60));
    let oldest = pod("e");
    let pods = [oldest, newer, restarted, recently_ready, cheap];
    let result = reconcile(&view(&rs, &pods), &rs)?;
    assert_eq!(deleted(&result), ["a", "b", "c", "d"]);
    Ok(())
}

/// "Pods on nodes with more replicas come before pods on nodes with fewer replicas",
/// counting the pods of every ReplicaSet of the same Deployment.
#[test]
fn scales_down_doubled_up_nodes_first() -> Result<(), PluginError> {
    let deployment = |uid: &str| {
        json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                "uid": uid, "controller": true}])
    };
    let mut rs = settled(replica_set(1), 2, 2, 2);
    rs["metadata"]["ownerReferences"] = deployment("uid-deploy");
    let mut old_rs = replica_set(1);
    old_rs["metadata"]["name"] = json!("web-old");
    old_rs["metadata"]["uid"] = json!("uid-web-old");
    old_rs["metadata"]["ownerReferences"] = deployment("uid-deploy");
    old_rs["spec"]["selector"] = json!({"matchLabels": {"app": "web-old"}});
    let mut other_rs = old_rs.clone();
    other_rs["metadata"]["name"] = json!("other");
    other_rs["metadata"]["uid"] = json!("uid-other");
    other_rs["metadata"]["ownerReferences"] = deployment("uid-other-deploy");
    other_rs["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});

    let mut on_n2 = pod("a");
    on_n2["spec"]["nodeName"] = json!("n2");
    let on_n1 = pod("b");
    let mut old_on_n1 = orphan(pod("old-1"));
    old_on_n1["metadata"]["labels"] = json!({"app": "web-old"});
    let mut others_on_n2 = orphan(pod("other-1"));
    others_on_n2["metadata"]["labels"] = json!({"app": "other"});
    others_on_n2["spec"]["nodeName"] = json!("n2");
    let mut more_others = others_on_n2.clone();
    more_others["metadata"]["name"] = json!("other-2");
    more_others["metadata"]["uid"] = json!("uid-other-2");

    let pods = [on_n2, on_n1, old_on_n1, others_on_n2, more_others];
    let view =
        view(&rs, &pods)
            .with("apps", "ReplicaSet", old_rs)
            .with("apps", "ReplicaSet", other_rs);
    let result = reconcile(&view, &rs)?;
    assert_eq!(deleted(&result), ["b"]);
    Ok(())
}

/// "If you scale down to 0 replicas, the ReplicaSet deletes all its Pods."
#[test]
fn zero_replicas_deletes_every_pod() -> Result<(), PluginError> {
    let rs = settled(replica_set(0), 3, 3, 3);
    let result = reconcile(&view(&rs, &[pod("a"), pod("b"), pod("c")]), &rs)?;
    assert_eq!(deleted(&result), ["a", "b", "c"]);
    assert!(created(&result).is_empty());
    Ok(())
}

#[test]
fn deletions_are_capped_at_burst_replicas() -> Result<(), PluginError> {
    let rs = settled(replica_set(0), 3, 3, 3);
    let pods = [pod("a"), pod("b"), pod("c")];
    let result = reconcile_with(r#"{"burstReplicas": 2}"#, &view(&rs, &pods), &rs)?;
    assert_eq!(deleted(&result).len(), 2);
    assert_eq!(
        result.requeue_after_millis,
        Some(crate::BURST_REQUEUE_MILLIS)
    );
    Ok(())
}

/// FilterActivePods: a pod being deleted is not counted, so a replacement is created, and it
/// is not deleted again.
#[test]
fn terminating_pods_are_replaced_and_not_deleted_again() -> Result<(), PluginError> {
    let rs = settled(replica_set(2), 2, 2, 2);
    let result = reconcile(&view(&rs, &[pod("a"), deleting(pod("b"))]), &rs)?;
    assert_eq!(created(&result).len(), 1);
    assert!(deleted(&result).is_empty());

    let rs = settled(replica_set(0), 1, 1, 1);
    let result = reconcile(&view(&rs, &[pod("a"), deleting(pod("b"))]), &rs)?;
    assert_eq!(deleted(&result), ["a"]);
    Ok(())
}

/// FilterActivePods: Succeeded and Failed pods do not count either.
#[test]
fn finished_pods_are_replaced() -> Result<(), PluginError> {
    let rs = settled(replica_set(2), 0, 0, 0);
    let mut failed = pod("a");
    failed["status"]["phase"] = json!("Failed");
    let mut succeeded = pod("b");
    succeeded["status"]["phase"] = json!("Succeeded");
    let result = reconcile(&view(&rs, &[failed, succeeded]), &rs)?;
    assert_eq!(created(&result).len(), 2);
    assert!(deleted(&result).is_empty());
    Ok(())
}
