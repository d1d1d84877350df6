//! Revision history (Deployment docs, "Clean up Policy"): after a complete rollout, old
//! ReplicaSets beyond `revisionHistoryLimit` are deleted, lowest revisions first, and
//! never one that still has replicas.

use serde_json::json;

use super::cluster::{Cluster, annotation, deleted, deployment, replicas};
use crate::annotations::REVISION;

#[test]
fn old_replica_sets_beyond_the_limit_are_deleted_oldest_revision_first() -> Result<(), String> {
    let mut d = deployment(2, "nginx:1");
    d["spec"]["revisionHistoryLimit"] = json!(2);
    let mut cluster = Cluster::with(d)?;
    cluster.settle()?;
    for version in 2..=5 {
        cluster.edit_deployment(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"] =
                json!(format!("nginx:{version}"));
        })?;
        cluster.settle()?;
    }
    let rss = cluster.replica_sets();
    let revisions: Vec<_> = rss
        .iter()
        .filter_map(|rs| annotation(rs, REVISION))
        .collect();
    assert_eq!(revisions, ["3", "4", "5"]);
    assert_eq!(rss.iter().map(replicas).collect::<Vec<_>>(), [0, 0, 2]);
    Ok(())
}

/// cleanupDeployment skips ReplicaSets with replicas, even beyond the limit.
#[test]
fn replica_sets_with_replicas_are_never_cleaned_up() -> Result<(), String> {
    let mut cluster = Cluster::with(deployment(4, "nginx:1"))?;
    cluster.settle()?;
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2")
    })?;
    cluster.step()?;
    cluster.edit_deployment(|d| {
        d["spec"]["paused"] = json!(true);
        d["spec"]["revisionHistoryLimit"] = json!(0);
    })?;
    let result = cluster.step()?;
    assert!(deleted(&result).is_empty(), "{:?}", result.actions);
    assert_eq!(cluster.replica_sets().len(), 2);
    Ok(())
}
