//! When a node last showed it was alive: its Lease's `spec.renewTime` (the kubelet renews it
//! every 10 s) or its Ready condition's `lastHeartbeatTime`, whichever is later (Kubernetes
//! counts either as a heartbeat); with neither, its `creationTimestamp`.

use keel_sdk::controller::objects;
use keel_sdk::controller::time::parse_rfc3339;
use keel_sdk::json::At;
use serde_json::Value;

/// The group of Leases.
pub const LEASE_GROUP: &str = "coordination.k8s.io";

/// The namespace of node Leases (each named after its node).
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

fn time_at(object: &Value, pointer: &str) -> Option<u64> {
    object
        .at(pointer)
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
}

/// The last heartbeat of `node` (milliseconds since the epoch), given its Lease if any;
/// None when nothing says (not even a creation time).
pub fn last_heartbeat(node: &Value, lease: Option<&Value>) -> Option<u64> {
    let renewed = lease.and_then(|lease| time_at(lease, "/spec/renewTime"));
    let posted =
        objects::condition(node, "Ready").and_then(|ready| time_at(ready, "/lastHeartbeatTime"));
    renewed
        .max(posted)
        .or_else(|| time_at(node, "/metadata/creationTimestamp"))
}
