//! Status and conditions (Deployment docs, "Deployment status"; progress.go): the counts
//! `kubectl rollout status` reads, `Available`, `Progressing` as the rollout progresses,
//! completes or exceeds its deadline, and `ReplicaFailure` copied from a ReplicaSet.

use serde_json::{Value, json};

use super::cluster::{Cluster, condition, deployment, status_written};

fn rolling(replicas: i64, deadline: Option<i64>) -> Result<Cluster, String> {
    let mut d = deployment(replicas, "nginx:1");
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}});
    if let Some(deadline) = deadline {
        d["spec"]["progressDeadlineSeconds"] = json!(deadline);
    }
    let mut cluster = Cluster::with(d)?;
    cluster.settle()?;
    Ok(cluster)
}

fn bad_image(cluster: &mut Cluster) -> Result<(), String> {
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:bad")
    })
}

/// Mid-rollout: replicas counts every ReplicaSet's pods, updatedReplicas the new one's,
/// unavailableReplicas what the ReplicaSets want minus what is available; Available holds
/// with 8 of 10 available (maxUnavailable 2), and Progressing says the new ReplicaSet is
/// progressing.
#[test]
fn mid_rollout_counts_and_conditions() -> Result<(), String> {
    let mut cluster = rolling(10, None)?;
    bad_image(&mut cluster)?;
    cluster.step()?;
    cluster.run_replica_sets(false)?;
    let result = cluster.step()?;
    let status = status_written(&result).ok_or("no status")?;
    assert_eq!(status["replicas"], 11);
    assert_eq!(status["updatedReplicas"], 3);
    assert_eq!(status["readyReplicas"], 8);
    assert_eq!(status["availableReplicas"], 8);
    // The ReplicaSets want 8 + 5 after this reconcile's scale-up; 8 are available.
    assert_eq!(status["unavailableReplicas"], 5);
    assert_eq!(status["observedGeneration"], 2);
    let d = json!({"status": status});
    assert_eq!(
        condition(&d, "Available"),
        Some((
            "True".into(),
            "MinimumReplicasAvailable".into(),
            "Deployment has minimum availability.".into()
        ))
    );
    let new = cluster.replica_sets().pop().ok_or("no rs")?;
    let name = new["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        condition(&d, "Progressing"),
        Some((
            "True".into(),
            "ReplicaSetUpdated".into(),
            format!("ReplicaSet \"{name}\" is progressing.")
        ))
    );
    Ok(())
}

/// A complete rollout: `ReplicaSet "<name>" has successfully progressed.`, and every
/// count kubectl compares equal to spec.replicas.
#[test]
fn a_complete_rollout_reports_the_new_replica_set_available() -> Result<(), String> {
    let cluster = rolling(3, None)?;
    let d = cluster.deployment()?;
    let name = cluster.replica_sets()[0]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        condition(&d, "Progressing"),
        Some((
            "True".into(),
            "NewReplicaSetAvailable".into(),
            format!("ReplicaSet \"{name}\" has successfully progressed.")
        ))
    );
    assert_eq!(condition(&d, "Available").map(|c| c.0), Some("True".into()));
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
    for field in ["replicas", "updatedReplicas", "availableReplicas"] {
        assert_eq!(d["status"][field], 3, "{field}");
    }
    Ok(())
}

/// progressDeadlineSeconds: without progress for that long the rollout is reported
/// failed (Progressing False `ProgressDeadlineExceeded`), which `kubectl rollout status`
/// treats as failure; the controller asks to be reconciled just after the deadline.
#[test]
fn no_progress_within_the_deadline_is_reported() -> Result<(), String> {
    let mut cluster = rolling(4, Some(60))?;
    bad_image(&mut cluster)?;
    let mut last = None;
    for _ in 0..5 {
        last = Some(cluster.step()?);
        cluster.run_replica_sets(false)?;
    }
    let waiting = last.ok_or("no reconcile")?;
    assert!(waiting.actions.is_empty(), "stuck: {:?}", waiting.actions);
    let requeue = waiting
        .requeue_after_millis
        .ok_or("no requeue for the deadline")?;
    assert!((60_000..=61_000).contains(&requeue), "{requeue}");
    let d = cluster.deployment()?;
    assert_eq!(
        condition(&d, "Progressing").map(|c| c.0),
        Some("True".into())
    );

    cluster.advance(requeue);
    cluster.step()?;
    let d = cluster.deployment()?;
    let name = cluster.replica_sets().pop().ok_or("no rs")?["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        condition(&d, "Progressing"),
        Some((
            "False".into(),
            "ProgressDeadlineExceeded".into(),
            format!("ReplicaSet \"{name}\" has timed out progressing.")
        ))
    );
    let after = cluster.reconcile()?;
    assert!(after.actions.is_empty());
    assert_eq!(
        after.requeue_after_millis, None,
        "a timed-out rollout stays so"
    );

    // Progress after the deadline brings the condition back to True.
    cluster.run_replica_sets(true)?;
    cluster.step()?;
    let d = cluster.deployment()?;
    assert_eq!(
        condition(&d, "Progressing").map(|c| c.0),
        Some("True".into())
    );
    Ok(())
}

/// Progress moves the Progressing condition's lastUpdateTime (so the deadline counts from
/// the last progress), but not its lastTransitionTime.
#[test]
fn progress_moves_the_last_update_time() -> Result<(), String> {
    let mut cluster = rolling(10, Some(600))?;
    bad_image(&mut cluster)?;
    cluster.step()?;
    let times = |c: &Cluster| -> Result<(Value, Value), String> {
        let d = c.deployment()?;
        let p = keel_sdk::controller::objects::condition(&d, "Progressing")
            .cloned()
            .ok_or("no condition")?;
        Ok((p["lastUpdateTime"].clone(), p["lastTransitionTime"].clone()))
    };
    let (updated_before, transition_before) = times(&cluster)?;
    cluster.advance(30_000);
    cluster.run_replica_sets(false)?;
    cluster.step()?;
    let (updated_after, transition_after) = times(&cluster)?;
    assert_ne!(updated_before, updated_after);
    assert_eq!(transition_before, transition_after);
    Ok(())
}

/// Without a deadline (progressDeadlineSeconds = MaxInt32) there is no Progressing
/// condition at all.
#[test]
fn no_deadline_means_no_progressing_condition() -> Result<(), String> {
    let mut d = deployment(2, "nginx:1");
    d["spec"]["progressDeadlineSeconds"] = json!(2_147_483_647_i64);
    let mut cluster = Cluster::with(d)?;
    cluster.settle()?;
    let d = cluster.deployment()?;
    assert_eq!(condition(&d, "Progressing"), None);
    assert_eq!(condition(&d, "Available").map(|c| c.0), Some("True".into()));
    Ok(())
}

/// getReplicaFailures: a ReplicaSet's ReplicaFailure condition (quota exceeded, say) is
/// shown on the Deployment, and removed once the ReplicaSet drops it.
#[test]
fn replica_failures_are_copied_from_the_replica_set() -> Result<(), String> {
    let mut cluster = rolling(2, None)?;
    let mut rs = cluster.replica_sets().pop().ok_or("no rs")?;
    rs["status"]["conditions"] = json!([{
        "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
        "message": "exceeded quota", "lastTransitionTime": "2026-01-01T00:00:00Z",
    }]);
    cluster.apply(&keel_sdk::controller::Action::update_status(&rs))?;
    cluster.step()?;
    let d = cluster.deployment()?;
    assert_eq!(
        condition(&d, "ReplicaFailure"),
        Some((
            "True".into(),
            "FailedCreate".into(),
            "exceeded quota".into()
        ))
    );
    rs = cluster.replica_sets().pop().ok_or("no rs")?;
    rs["status"]["conditions"] = json!([]);
    cluster.apply(&keel_sdk::controller::Action::update_status(&rs))?;
    cluster.step()?;
    assert_eq!(condition(&cluster.deployment()?, "ReplicaFailure"), None);
    Ok(())
}
