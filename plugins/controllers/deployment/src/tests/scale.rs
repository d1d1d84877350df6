//! Scaling (Deployment docs, "Scaling a Deployment" and "Proportional scaling"): with no
//! rollout the new ReplicaSet takes the new count; mid-rollout the extra replicas are
//! shared among the ReplicaSets in proportion to their sizes.

use serde_json::json;

use super::cluster::{Cluster, annotation, deployment, replicas};
use crate::annotations::{DESIRED_REPLICAS, MAX_REPLICAS};

/// `kubectl scale deployment/web --replicas=5`: the only ReplicaSet is resized, and its
/// annotations record the new desired and max (5 + 25% rounded up) replicas.
#[test]
fn scaling_resizes_the_only_replica_set() -> Result<(), String> {
    let mut cluster = Cluster::with(deployment(3, "nginx:1"))?;
    cluster.settle()?;
    cluster.edit_deployment(|d| d["spec"]["replicas"] = json!(5))?;
    cluster.step()?;
    let rss = cluster.replica_sets();
    assert_eq!(rss.len(), 1);
    assert_eq!(replicas(&rss[0]), 5);
    assert_eq!(annotation(&rss[0], DESIRED_REPLICAS).as_deref(), Some("5"));
    assert_eq!(annotation(&rss[0], MAX_REPLICAS).as_deref(), Some("7"));
    cluster.settle()?;
    assert_eq!(cluster.deployment()?["status"]["availableReplicas"], 5);

    cluster.edit_deployment(|d| d["spec"]["replicas"] = json!(1))?;
    cluster.settle()?;
    assert_eq!(replicas(&cluster.replica_sets()[0]), 1);
    Ok(())
}

/// The documented example: 10 replicas, maxSurge 3, maxUnavailable 2, rolled to an image
/// that never becomes available: the old ReplicaSet keeps 8 and the new one has 5. Scaled
/// to 15, the 5 extra replicas go 3 to the old ReplicaSet and 2 to the new one.
#[test]
fn scaling_mid_rollout_is_proportional() -> Result<(), String> {
    let mut d = deployment(10, "nginx:1");
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}});
    let mut cluster = Cluster::with(d)?;
    cluster.settle()?;
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:bad")
    })?;
    for _ in 0..5 {
        cluster.step()?;
        cluster.run_replica_sets(false)?;
    }
    assert_eq!(
        cluster
            .replica_sets()
            .iter()
            .map(replicas)
            .collect::<Vec<_>>(),
        [8, 5]
    );

    cluster.edit_deployment(|d| d["spec"]["replicas"] = json!(15))?;
    cluster.step()?;
    let rss = cluster.replica_sets();
    assert_eq!(rss.iter().map(replicas).collect::<Vec<_>>(), [11, 7]);
    for rs in &rss {
        assert_eq!(annotation(rs, DESIRED_REPLICAS).as_deref(), Some("15"));
        assert_eq!(annotation(rs, MAX_REPLICAS).as_deref(), Some("18"));
    }

    // Scaling down shares the removal the same way, and never below zero.
    cluster.edit_deployment(|d| d["spec"]["replicas"] = json!(0))?;
    cluster.step()?;
    assert_eq!(
        cluster
            .replica_sets()
            .iter()
            .map(replicas)
            .collect::<Vec<_>>(),
        [0, 0]
    );
    Ok(())
}
