//! Pausing (Deployment docs, "Pausing and Resuming a rollout of a Deployment"): changes to
//! a paused Deployment's template start no rollout, scaling still applies, and the
//! Progressing condition says `DeploymentPaused`; resuming starts the rollout.

use serde_json::json;

use super::cluster::{Cluster, condition, created, deployment, replicas};

#[test]
fn a_paused_deployment_only_scales_and_resuming_rolls_out() -> Result<(), String> {
    let mut cluster = Cluster::with(deployment(3, "nginx:1"))?;
    cluster.settle()?;
    cluster.edit_deployment(|d| {
        d["spec"]["paused"] = json!(true);
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    })?;
    let result = cluster.step()?;
    assert!(created(&result).is_empty(), "{:?}", result.actions);
    let d = cluster.deployment()?;
    assert_eq!(
        condition(&d, "Progressing"),
        Some((
            "Unknown".into(),
            "DeploymentPaused".into(),
            "Deployment is paused".into()
        ))
    );
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
    assert_eq!(
        result.requeue_after_millis, None,
        "no deadline runs while paused"
    );

    cluster.edit_deployment(|d| d["spec"]["replicas"] = json!(5))?;
    cluster.settle()?;
    let rss = cluster.replica_sets();
    assert_eq!(rss.len(), 1, "still no rollout");
    assert_eq!(replicas(&rss[0]), 5);

    cluster.edit_deployment(|d| d["spec"]["paused"] = json!(false))?;
    let result = cluster.step()?;
    assert_eq!(created(&result).len(), 1, "{:?}", result.actions);
    cluster.settle()?;
    let rss = cluster.replica_sets();
    assert_eq!(rss.iter().map(replicas).collect::<Vec<_>>(), [0, 5]);
    let d = cluster.deployment()?;
    assert_eq!(
        condition(&d, "Progressing").map(|c| c.1),
        Some("NewReplicaSetAvailable".into())
    );
    Ok(())
}

/// checkPausedConditions: resuming sets Progressing Unknown `DeploymentResumed`, so the
/// deadline counts from the resume and not from before the pause: a rollout paused for
/// longer than its deadline has not timed out when resumed.
#[test]
fn time_paused_does_not_count_against_the_deadline() -> Result<(), String> {
    let mut d = deployment(4, "nginx:1");
    d["spec"]["progressDeadlineSeconds"] = json!(60);
    let mut cluster = Cluster::with(d)?;
    cluster.settle()?;
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:bad")
    })?;
    cluster.step()?;
    cluster.run_replica_sets(false)?;
    cluster.step()?;
    cluster.edit_deployment(|d| d["spec"]["paused"] = json!(true))?;
    cluster.step()?;
    assert_eq!(
        condition(&cluster.deployment()?, "Progressing").map(|c| c.1),
        Some("DeploymentPaused".into())
    );
    cluster.advance(600_000);
    cluster.step()?;
    cluster.edit_deployment(|d| d["spec"]["paused"] = json!(false))?;
    let result = cluster.step()?;
    let d = cluster.deployment()?;
    assert_eq!(
        condition(&d, "Progressing"),
        Some((
            "Unknown".into(),
            "DeploymentResumed".into(),
            "Deployment is resumed".into()
        ))
    );
    // The deadline runs again from the resume.
    let requeue = result.requeue_after_millis.ok_or("no deadline requeue")?;
    assert!((60_000..=61_000).contains(&requeue), "{requeue}");
    Ok(())
}
