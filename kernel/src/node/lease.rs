//! The node's heartbeat: its `coordination.k8s.io/v1` Lease in `kube-node-lease`, named
//! after the node and owned by it, renewed every few seconds (the kubelet renews every 10 s
//! a lease of 40 s). A renewal is an update guarded by the lease's resourceVersion; a lost
//! race or a failed call is tried again at the next renewal.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::http::{ApiClient, HttpError};

/// The namespace node leases live in.
pub const NAMESPACE: &str = "kube-node-lease";

fn micro_time() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Creates or renews the lease of node `name` (whose uid is `node_uid`) once.
pub async fn renew(
    client: &ApiClient,
    name: &str,
    node_uid: &str,
    duration: Duration,
) -> Result<Value, HttpError> {
    let collection = format!("/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases");
    let path = format!("{collection}/{name}");
    let now = micro_time();
    match client.get(&path).await {
        Ok(mut lease) => {
            if let Some(spec) = lease.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("renewTime".into(), json!(now));
                spec.insert("holderIdentity".into(), json!(name));
                spec.insert("leaseDurationSeconds".into(), json!(duration.as_secs()));
            }
            client.replace(&path, &lease).await
        }
        Err(HttpError::Status { code: 404, .. }) => {
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": NAMESPACE, "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": duration.as_secs(),
                         "acquireTime": now, "renewTime": now},
            });
            client.create(&collection, &lease).await
        }
        Err(error) => Err(error),
    }
}

/// Renews the lease every `every`, for as long as the task lives.
pub async fn renew_forever(
    client: &ApiClient,
    name: &str,
    node_uid: &str,
    duration: Duration,
    every: Duration,
) {
    loop {
        if let Err(error) = renew(client, name, node_uid, duration).await {
            tracing::warn!(node = name, "cannot renew the node lease: {error}");
        }
        tokio::time::sleep(every).await;
    }
}
