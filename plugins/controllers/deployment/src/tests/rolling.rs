//! RollingUpdate (Deployment docs, "Rolling Update Deployment"; rolling.go): the rollout
//! stays within maxSurge and maxUnavailable at every step, percentages round as
//! documented, unhealthy old replicas go first.

use serde_json::{Value, json};

use super::cluster::{Cluster, condition, created, deployment, replicas, updated};

/// A Deployment of `replicas` with the given rolling update bounds, settled on nginx:1.
fn settled(replicas: i64, max_surge: Value, max_unavailable: Value) -> Result<Cluster, String> {
    let mut d = deployment(replicas, "nginx:1");
    d["spec"]["strategy"] = json!({
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    });
    let mut cluster = Cluster::with(d)?;
    cluster.settle()?;
    Ok(cluster)
}

fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The bounds at one moment: pods (spec and status) at most `max_total`, and available
/// pods at least `min_available`, counting for each ReplicaSet no more available pods
/// than its spec keeps.
fn check_bounds(cluster: &Cluster, max_total: i64, min_available: i64) -> Result<(), String> {
    let rss = cluster.replica_sets();
    let spec: i64 = rss.iter().map(replicas).sum();
    let pods: i64 = rss.iter().map(|rs| int(rs, "/status/replicas")).sum();
    let available: i64 = rss
        .iter()
        .map(|rs| int(rs, "/status/availableReplicas").min(replicas(rs)))
        .sum();
    if spec > max_total || pods > max_total {
        return Err(format!(
            "surge exceeded: spec {spec}, pods {pods} > {max_total}"
        ));
    }
    if available < min_available {
        return Err(format!(
            "unavailability exceeded: {available} < {min_available}"
        ));
    }
    Ok(())
}

/// Rolls `cluster`'s Deployment to nginx:2, checking the bounds after every write and
/// every ReplicaSet status change (new pods start unavailable and become available one
/// round later); the number of rounds.
fn roll(cluster: &mut Cluster, max_total: i64, min_available: i64) -> Result<usize, String> {
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2")
    })?;
    let check = |c: &Cluster| check_bounds(c, max_total, min_available);
    for round in 0..100 {
        let result = cluster.step_checked(check)?;
        cluster.run_replica_sets(false)?;
        check(cluster)?;
        cluster.run_replica_sets(true)?;
        check(cluster)?;
        if result.actions.is_empty() {
            return Ok(round);
        }
    }
    Err("the rollout did not finish".into())
}

/// The end of a rollout of `replicas`: the new ReplicaSet has them all, the old none,
/// and the status says complete.
fn assert_complete(cluster: &Cluster, replicas_wanted: i64) -> Result<(), String> {
    let rss = cluster.replica_sets();
    assert_eq!(rss.len(), 2);
    assert_eq!(replicas(&rss[0]), 0, "old ReplicaSet scaled down");
    assert_eq!(replicas(&rss[1]), replicas_wanted);
    assert_eq!(
        rss[1]["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    let d = cluster.deployment()?;
    for field in [
        "replicas",
        "updatedReplicas",
        "availableReplicas",
        "readyReplicas",
    ] {
        assert_eq!(d["status"][field], replicas_wanted, "{field}");
    }
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
    assert_eq!(
        condition(&d, "Progressing").map(|c| c.1),
        Some("NewReplicaSetAvailable".into())
    );
    Ok(())
}

/// Deployment docs: with maxSurge 3 and maxUnavailable 2 (absolute numbers), a
/// Deployment of 10 never has more than 13 pods nor fewer than 8 available.
#[test]
fn a_rollout_stays_within_absolute_surge_and_unavailability() -> Result<(), String> {
    let mut cluster = settled(10, json!(3), json!(2))?;
    let rounds = roll(&mut cluster, 13, 8)?;
    assert!(rounds >= 2, "done in {rounds} rounds");
    assert_complete(&cluster, 10)
}

/// Deployment docs, the defaults: 25% surge rounded up and 25% unavailable rounded down;
/// of 4 replicas: at most 5 pods and at least 3 available.
#[test]
fn a_rollout_with_default_percentages_rounds_surge_up_and_unavailability_down() -> Result<(), String>
{
    let mut d = deployment(4, "nginx:1");
    d["spec"]["strategy"] = json!({"type": "RollingUpdate"});
    let mut cluster = Cluster::with(d)?;
    cluster.settle()?;
    roll(&mut cluster, 5, 3)?;
    assert_complete(&cluster, 4)
}

/// Percentages: 30% of 5 is a surge of 2 (1.5 up) and an unavailability of 1 (down).
#[test]
fn percentage_bounds_hold_at_every_step() -> Result<(), String> {
    let mut cluster = settled(5, json!("30%"), json!("30%"))?;
    roll(&mut cluster, 7, 4)?;
    assert_complete(&cluster, 5)
}

/// maxUnavailable 0: the rollout only surges, never going below the desired
/// availability.
#[test]
fn zero_unavailability_surges_first() -> Result<(), String> {
    let mut cluster = settled(3, json!(1), json!(0))?;
    roll(&mut cluster, 4, 3)?;
    assert_complete(&cluster, 3)
}

/// maxSurge 0: no pod above the desired count, old pods are replaced one by one.
#[test]
fn zero_surge_replaces_in_place() -> Result<(), String> {
    let mut cluster = settled(3, json!(0), json!(1))?;
    roll(&mut cluster, 3, 2)?;
    assert_complete(&cluster, 3)
}

/// ResolveFenceposts: 25% of 3 unavailable rounds to 0 and maxSurge 0 is given; both
/// zero, maxUnavailable becomes 1 so the rollout can proceed.
#[test]
fn both_bounds_rounding_to_zero_allow_one_unavailable() -> Result<(), String> {
    let mut cluster = settled(3, json!(0), json!("25%"))?;
    roll(&mut cluster, 3, 2)?;
    assert_complete(&cluster, 3)
}

/// The first reconcile of a rollout (maxSurge 3, maxUnavailable 2 of 10): the new
/// ReplicaSet is created with the 3 surge pods, and the old one scaled down by the 2
/// that may be unavailable.
#[test]
fn the_new_replica_set_starts_with_the_surge() -> Result<(), String> {
    let mut cluster = settled(10, json!(3), json!(2))?;
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2")
    })?;
    let result = cluster.reconcile()?;
    let new = created(&result);
    assert_eq!(new.len(), 1);
    assert_eq!(replicas(&new[0]), 3);
    let old = updated(&result);
    assert_eq!(old.len(), 1);
    assert_eq!(replicas(&old[0]), 8);
    Ok(())
}

/// reconcileOldReplicaSets / cleanupUnhealthyReplicas: an old ReplicaSet's unavailable
/// replicas are scaled away first, since that costs no availability.
#[test]
fn unhealthy_old_replicas_are_scaled_down_first() -> Result<(), String> {
    let mut cluster = settled(4, json!(0), json!(1))?;
    // Two of the old pods stop being available.
    let mut old = cluster.replica_sets().pop().ok_or("no rs")?;
    old["status"]["availableReplicas"] = json!(2);
    old["status"]["readyReplicas"] = json!(2);
    cluster.apply(&keel_sdk::controller::Action::update_status(&old))?;
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2")
    })?;
    let result = cluster.reconcile()?;
    let new = created(&result);
    assert_eq!(replicas(&new[0]), 0, "no room to surge");
    let scaled = updated(&result);
    // 4 pods, 3 must stay available: one of the two unavailable pods can go.
    assert_eq!(scaled.len(), 1);
    assert_eq!(replicas(&scaled[0]), 3);
    Ok(())
}

/// Rollover (Deployment docs, "Rollover"): a template change mid-rollout starts a third
/// ReplicaSet and scales both older ones down, within the same bounds.
#[test]
fn a_rollover_mid_rollout_scales_every_old_replica_set_down() -> Result<(), String> {
    let mut cluster = settled(10, json!(3), json!(2))?;
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2")
    })?;
    cluster.step()?;
    cluster.run_replica_sets(false)?;
    cluster.edit_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:3")
    })?;
    let check = |c: &Cluster| check_bounds(c, 13, 8);
    for _ in 0..100 {
        let result = cluster.step_checked(check)?;
        cluster.run_replica_sets(false)?;
        check(&cluster)?;
        cluster.run_replica_sets(true)?;
        check(&cluster)?;
        if result.actions.is_empty() {
            break;
        }
    }
    let rss = cluster.replica_sets();
    assert_eq!(rss.iter().map(replicas).collect::<Vec<_>>(), [0, 0, 10]);
    assert_eq!(
        rss[2]["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:3"
    );
    Ok(())
}
