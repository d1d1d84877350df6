//! The status a reconcile writes: the counts of `calculateStatus`, `observedGeneration`,
//! kept conditions, and the requeue for a pod that becomes available later.

use keel_sdk::controller::PluginError;
use serde_json::json;

use super::*;

/// `rs` whose template (and so its fully labelled pods) also carries `tier=front`, with
/// `minReadySeconds: 10`.
fn tiered(replicas: u64) -> Value {
    let mut rs = replica_set(replicas);
    rs["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "tier": "front"});
    rs["spec"]["minReadySeconds"] = json!(10);
    rs
}

fn tiered_pod(name: &str) -> Value {
    let mut pod = pod(name);
    pod["metadata"]["labels"] = json!({"app": "web", "tier": "front"});
    pod
}

/// ReplicaSetStatus: replicas, fullyLabeledReplicas (pods with all the template's labels),
/// readyReplicas, availableReplicas (ready for minReadySeconds), terminatingReplicas; and a
/// reconcile when the next ready pod becomes available.
#[test]
fn counts_with_min_ready_seconds_and_a_requeue_for_availability() -> Result<(), PluginError> {
    let rs = tiered(5);
    let mut recently_ready = tiered_pod("b");
    recently_ready["status"]["conditions"][0]["lastTransitionTime"] = json!(at(4));
    let pods = [
        tiered_pod("a"),
        recently_ready,
        not_ready(tiered_pod("c")),
        pod("d"),
        deleting(tiered_pod("e")),
        tiered_pod("f"),
    ];
    let result = reconcile(&view(&rs, &pods), &rs)?;
    assert_eq!(
        written_status(&result),
        Some(
            json!({"replicas": 5, "fullyLabeledReplicas": 4, "readyReplicas": 4,
                    "availableReplicas": 3, "observedGeneration": 1, "terminatingReplicas": 1})
        )
    );
    // Ready 4 s ago with minReadySeconds 10: available in 6 s.
    assert_eq!(result.requeue_after_millis, Some(6_000));
    assert_eq!(kinds(&result), ["status"]);

    // Six seconds on, it is available and nothing is left to wait for.
    let later = view(&rs, &pods).at(NOW + 6_000);
    let result = reconcile(&later, &rs)?;
    assert_eq!(
        written_status(&result).map(|s| s["availableReplicas"].clone()),
        Some(json!(4))
    );
    assert_eq!(result.requeue_after_millis, None);
    Ok(())
}

/// updateReplicaSetStatus: a new generation is observed even when the counts are the same,
/// and conditions (ReplicaFailure) are kept as they are.
#[test]
fn observed_generation_moves_and_conditions_stay() -> Result<(), PluginError> {
    let mut rs = settled(replica_set(1), 1, 1, 1);
    rs["metadata"]["generation"] = json!(2);
    let condition = json!({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"});
    rs["status"]["conditions"] = json!([condition]);
    let result = reconcile(&view(&rs, &[pod("a")]), &rs)?;
    let updates = status_updates(&result);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["status"]["observedGeneration"], json!(2));
    assert_eq!(updates[0]["status"]["conditions"], json!([condition]));
    // The update is the object as read (its resourceVersion guards it), status changed.
    assert_eq!(updates[0]["metadata"], rs["metadata"]);
    assert_eq!(updates[0]["spec"], rs["spec"]);
    Ok(())
}

/// With `statusTerminatingReplicas: false` (the feature gate off) the field is not kept.
#[test]
fn terminating_replicas_can_be_left_out() -> Result<(), PluginError> {
    let rs = replica_set(1);
    let config = r#"{"statusTerminatingReplicas": false}"#;
    let result = reconcile_with(config, &view(&rs, &[pod("a"), deleting(pod("b"))]), &rs)?;
    assert_eq!(
        written_status(&result),
        Some(
            json!({"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1,
                    "availableReplicas": 1, "observedGeneration": 1})
        )
    );
    Ok(())
}

/// Not-ready pods need no requeue: their readiness changing is a pod event.
#[test]
fn no_requeue_for_pods_that_are_not_ready() -> Result<(), PluginError> {
    let rs = settled(tiered(1), 1, 0, 0);
    let result = reconcile(&view(&rs, &[not_ready(tiered_pod("a"))]), &rs)?;
    assert!(result.actions.is_empty(), "{:?}", result.actions);
    assert_eq!(result.requeue_after_millis, None);
    Ok(())
}
