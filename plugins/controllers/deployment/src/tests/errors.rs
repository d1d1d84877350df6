//! What the controller refuses or leaves alone: a gone or deleting Deployment, a
//! selector selecting everything, a bad configuration.

use keel_sdk::controller::{ObjectRef, Reconciler};
use serde_json::json;

use super::cluster::{Cluster, NAME, NS, deployment};
use crate::DeploymentController;

/// A Deployment that is gone or being deleted needs nothing: the garbage collector
/// deletes its ReplicaSets.
#[test]
fn gone_or_deleting_deployments_need_nothing() -> Result<(), String> {
    let mut d = deployment(3, "nginx:1");
    d["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let cluster = Cluster::with(d)?;
    assert!(cluster.reconcile()?.actions.is_empty());
    let controller = DeploymentController::new("null").map_err(|e| e.message)?;
    let key = ObjectRef::new("apps", "Deployment", NS, NAME);
    let result = controller
        .reconcile(&cluster.view, &key, None)
        .map_err(|e| e.message)?;
    assert!(result.actions.is_empty());
    Ok(())
}

/// Kubernetes refuses to act on an empty selector: it would select every pod.
#[test]
fn an_empty_selector_is_an_error() -> Result<(), String> {
    let mut d = deployment(3, "nginx:1");
    d["spec"]["selector"] = json!({});
    let cluster = Cluster::with(d)?;
    let error = cluster.reconcile().err().unwrap_or_default();
    assert!(error.contains("empty selector"), "{error}");
    Ok(())
}

#[test]
fn configuration_is_null_or_empty() {
    assert!(DeploymentController::new("null").is_ok());
    assert!(DeploymentController::new("{}").is_ok());
    assert!(DeploymentController::new("{\"surge\": 1}").is_err());
}
