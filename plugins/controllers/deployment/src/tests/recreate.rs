//! Recreate (Deployment docs, "Recreate Deployment"): "All existing Pods are killed
//! before new ones are created"; the new revision's pods are created only once the old
//! ones are gone.

use keel_sdk::controller::View;
use serde_json::json;

use super::cluster::{Cluster, NS, created, deployment, replicas, updated};

fn settled_recreate() -> Result<Cluster, String> {
    let mut d = deployment(3, "nginx:1");
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    let mut cluster = Cluster::with(d)?;
    cluster.settle()?;
    Ok(cluster)
}

#[test]
fn old_pods_are_gone_before_the_new_replica_set_is_created() -> Result<(), String> {
    let mut cluster = settled_recreate()?;
    let old = cluster.replica_sets().pop().ok_or("no rs")?;
    cluster.add_pods(&old, 3, "Running")?;
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2")
    })?;

    // First the old ReplicaSet goes to zero, and nothing is created.
    let result = cluster.step()?;
    assert!(created(&result).is_empty());
    assert_eq!(
        updated(&result).iter().map(replicas).collect::<Vec<_>>(),
        [0]
    );

    // Its status still counts pods: wait.
    let result = cluster.step()?;
    assert!(created(&result).is_empty(), "{:?}", result.actions);

    // Its status says none, but the pods are still in the cache (terminating): wait, and
    // look again soon since pod changes reconcile nothing.
    cluster.run_replica_sets(false)?;
    let result = cluster.step()?;
    assert!(created(&result).is_empty(), "{:?}", result.actions);
    assert_eq!(result.requeue_after_millis, Some(1000));

    // A finished pod does not count; a running one does.
    let pods: Vec<String> = cluster
        .view
        .list("", "Pod", NS, &keel_sdk::labels::Selector::everything())
        .iter()
        .map(|p| keel_sdk::controller::objects::name(p).to_string())
        .collect();
    let mut finished = cluster.get("", "Pod", &pods[0])?;
    finished["status"]["phase"] = json!("Succeeded");
    cluster.view.put("", "Pod", finished);
    for pod in &pods[1..] {
        cluster.view.remove("", "Pod", NS, pod);
    }
    let result = cluster.step()?;
    let new = created(&result);
    assert_eq!(new.len(), 1, "{:?}", result.actions);
    assert_eq!(
        replicas(&new[0]),
        3,
        "the new ReplicaSet gets every replica at once"
    );

    cluster.settle()?;
    let rss = cluster.replica_sets();
    assert_eq!(rss.iter().map(replicas).collect::<Vec<_>>(), [0, 3]);
    Ok(())
}

/// Recreate keeps no pod above the desired count and has no unavailability budget: the
/// Deployment is Available only with every replica available.
#[test]
fn recreate_is_available_only_with_every_replica() -> Result<(), String> {
    let mut cluster = settled_recreate()?;
    let mut rs = cluster.replica_sets().pop().ok_or("no rs")?;
    rs["status"]["availableReplicas"] = json!(2);
    cluster.apply(&keel_sdk::controller::Action::update_status(&rs))?;
    cluster.step()?;
    let d = cluster.deployment()?;
    assert_eq!(
        super::cluster::condition(&d, "Available").map(|c| c.0),
        Some("False".into())
    );
    assert_eq!(d["status"]["unavailableReplicas"], 1);
    Ok(())
}
