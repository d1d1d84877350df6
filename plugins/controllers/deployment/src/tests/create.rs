//! A new Deployment: its first ReplicaSet, named and labelled with the template hash, at
//! revision 1, with the replica annotations and the Deployment's own annotations; the
//! Deployment then carries the revision. And a settled Deployment answers nothing.

use serde_json::{Value, json};

use super::cluster::{
    Cluster, annotation, condition, created, deployment, replicas, status_written, updated,
};
use crate::annotations::{DESIRED_REPLICAS, LAST_APPLIED, MAX_REPLICAS, REVISION};
use crate::hash::pod_template_hash;

/// Deployment docs ("Creating a Deployment"): the ReplicaSet is named
/// `[DEPLOYMENT-NAME]-[HASH]`, and the `pod-template-hash` label is added to its labels,
/// selector and pod template.
#[test]
fn a_new_deployment_gets_a_replica_set_named_and_labelled_with_the_template_hash()
-> Result<(), String> {
    let cluster = Cluster::with(deployment(3, "nginx:1"))?;
    let result = cluster.reconcile()?;
    let rs = created(&result);
    assert_eq!(rs.len(), 1, "{:?}", result.actions);
    let rs = &rs[0];
    let hash = pod_template_hash(&deployment(3, "nginx:1")["spec"]["template"], None);
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        rs["metadata"]["labels"],
        json!({"app": "web", "pod-template-hash": hash})
    );
    assert_eq!(
        rs["spec"]["selector"],
        json!({"matchLabels": {"app": "web", "pod-template-hash": hash}})
    );
    assert_eq!(
        rs["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web", "pod-template-hash": hash})
    );
    assert_eq!(
        rs["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1"
    );
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    assert_eq!(rs["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(rs["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    // Nothing else runs yet: all three at once (3 <= 3 + maxSurge).
    assert_eq!(replicas(rs), 3);
    Ok(())
}

/// Revision annotations: the first ReplicaSet is revision 1; desired-replicas is
/// spec.replicas and max-replicas adds maxSurge (25% of 3, rounded up: 1).
#[test]
fn the_first_replica_set_is_revision_1_with_replica_annotations() -> Result<(), String> {
    let cluster = Cluster::with(deployment(3, "nginx:1"))?;
    let rs = created(&cluster.reconcile()?).pop().ok_or("no create")?;
    assert_eq!(annotation(&rs, REVISION).as_deref(), Some("1"));
    assert_eq!(annotation(&rs, DESIRED_REPLICAS).as_deref(), Some("3"));
    assert_eq!(annotation(&rs, MAX_REPLICAS).as_deref(), Some("4"));
    Ok(())
}

/// The Deployment's annotations go onto its ReplicaSets, except
/// `kubectl.kubernetes.io/last-applied-configuration` and the revision ones.
#[test]
fn deployment_annotations_are_copied_except_last_applied_and_revision() -> Result<(), String> {
    let mut d = deployment(1, "nginx:1");
    d["metadata"]["annotations"] = json!({
        "team": "payments",
        LAST_APPLIED: "{\"kind\":\"Deployment\"}",
        REVISION: "41",
    });
    let cluster = Cluster::with(d)?;
    let rs = created(&cluster.reconcile()?).pop().ok_or("no create")?;
    assert_eq!(annotation(&rs, "team").as_deref(), Some("payments"));
    assert_eq!(annotation(&rs, LAST_APPLIED), None);
    assert_eq!(annotation(&rs, REVISION).as_deref(), Some("1"));
    Ok(())
}

/// progress.go: creating the new ReplicaSet sets Progressing True `NewReplicaSetCreated`;
/// the status is written in the same answer, and the Deployment's revision annotation in
/// the next one.
#[test]
fn creation_is_reported_and_the_deployment_takes_the_revision() -> Result<(), String> {
    let mut cluster = Cluster::with(deployment(2, "nginx:1"))?;
    let first = cluster.step()?;
    let rs_name = created(&first)
        .first()
        .and_then(|rs| rs["metadata"]["name"].as_str().map(str::to_string))
        .ok_or("no create")?;
    let status = status_written(&first).ok_or("no status")?;
    let d = json!({"status": status});
    assert_eq!(
        condition(&d, "Progressing"),
        Some((
            "True".into(),
            "NewReplicaSetCreated".into(),
            format!("Created new replica set \"{rs_name}\"")
        ))
    );
    assert_eq!(status["observedGeneration"], 1);
    let second = cluster.step()?;
    let written = updated(&second);
    assert_eq!(written.len(), 1, "{:?}", second.actions);
    assert_eq!(written[0]["kind"], "Deployment");
    assert_eq!(
        annotation(&cluster.deployment()?, REVISION).as_deref(),
        Some("1")
    );
    Ok(())
}

/// Reconcile is level-triggered: once the cluster matches the Deployment, reconciling
/// again answers nothing, and the same state always gives the same answer.
#[test]
fn a_settled_deployment_answers_nothing_and_answers_are_repeatable() -> Result<(), String> {
    let mut cluster = Cluster::with(deployment(3, "nginx:1"))?;
    let first = cluster.reconcile()?;
    assert_eq!(
        format!("{:?}", first.actions),
        format!("{:?}", cluster.reconcile()?.actions)
    );
    cluster.settle()?;
    let result = cluster.reconcile()?;
    assert!(result.actions.is_empty(), "{:?}", result.actions);
    assert_eq!(
        result.requeue_after_millis, None,
        "a complete rollout needs no deadline check"
    );
    assert_eq!(cluster.replica_sets().len(), 1);
    let d = cluster.deployment()?;
    assert_eq!(d["status"]["availableReplicas"], 3);
    assert_eq!(d["status"].get("unavailableReplicas"), None::<&Value>);
    Ok(())
}
