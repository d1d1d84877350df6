//! Nodes, Leases and pods the tests build, a fixed clock, and reading the answers.

use keel_sdk::controller::testing::FakeView;
use keel_sdk::controller::time::format_rfc3339;
use keel_sdk::controller::{Action, ObjectRef, ReconcileResult, Reconciler};
use serde_json::{Value, json};

use crate::NodeLifecycle;

/// The tests' now: 2026-11-23T23:42:20Z.
pub const NOW: u64 = 1_795_477_340_000;

/// `NOW - seconds` as RFC 3339.
pub fn ago(seconds: u64) -> String {
    format_rfc3339(NOW - seconds * 1000)
}

/// The controller configured with `config`.
pub fn controller_with(config: &str) -> NodeLifecycle {
    match NodeLifecycle::new(config) {
        Ok(c) => c,
        Err(e) => panic!("configuration refused: {}", e.message),
    }
}

/// A node created an hour ago, Ready with a heartbeat `heartbeat_ago` seconds ago.
pub fn node(name: &str, heartbeat_ago: u64) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "7",
                     "creationTimestamp": ago(3600)},
        "spec": {},
        "status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "message": "kubelet is posting ready status",
             "lastHeartbeatTime": ago(heartbeat_ago), "lastTransitionTime": ago(3600)},
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
             "lastHeartbeatTime": ago(heartbeat_ago), "lastTransitionTime": ago(3600)},
        ]},
    })
}

/// The Lease of node `name` renewed at `renew_time`.
pub fn lease(name: &str, renew_time: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease", "resourceVersion": "3"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew_time},
    })
}

/// `node` with these taints.
pub fn tainted(mut node: Value, taints: Value) -> Value {
    node["spec"]["taints"] = taints;
    node
}

/// The two unreachable taints, the `NoExecute` one added at `added`.
pub fn unreachable_taints(added: &str) -> Value {
    json!([
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": added},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
    ])
}

/// A pod in `default` bound to `node_name`, with these tolerations.
pub fn pod(name: &str, node_name: &str, tolerations: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                     "resourceVersion": "5"},
        "spec": {"nodeName": node_name, "tolerations": tolerations},
    })
}

/// A toleration of the unreachable `NoExecute` taint for `seconds` (None: for ever).
pub fn tolerate_unreachable(seconds: Option<i64>) -> Value {
    let mut toleration = json!({"key": "node.kubernetes.io/unreachable",
                                "operator": "Exists", "effect": "NoExecute"});
    if let Some(seconds) = seconds {
        toleration["tolerationSeconds"] = json!(seconds);
    }
    toleration
}

/// A view at `now` holding these nodes, leases and pods.
pub fn view_at(now: u64, objects: &[&Value]) -> FakeView {
    objects.iter().fold(
        FakeView::new().at(now),
        |view, object| match object["kind"].as_str() {
            Some("Lease") => view.with("coordination.k8s.io", "Lease", (*object).clone()),
            Some(kind) => view.with("", kind, (*object).clone()),
            None => view,
        },
    )
}

/// Reconciles `node` with `controller` against `view`.
pub fn reconcile_with(
    controller: &NodeLifecycle,
    view: &FakeView,
    node: &Value,
) -> ReconcileResult {
    let name = node["metadata"]["name"].as_str().unwrap_or_default();
    let key = ObjectRef::new("", "Node", "", name);
    match controller.reconcile(view, &key, Some(node.clone())) {
        Ok(result) => result,
        Err(e) => panic!("reconcile failed: {}", e.message),
    }
}

/// Reconciles `node` with the default configuration.
pub fn reconcile(view: &FakeView, node: &Value) -> ReconcileResult {
    reconcile_with(&controller_with("null"), view, node)
}

/// The only action of `result`, which must be an update of the node; its object.
pub fn only_update(result: &ReconcileResult) -> Value {
    match result.actions.as_slice() {
        [Action::Update(json)] => serde_json::from_str(json).unwrap_or_default(),
        other => panic!("expected one update, got {}", describe(other)),
    }
}

/// The only action of `result`, which must be a status update of the node; its object.
pub fn only_status_update(result: &ReconcileResult) -> Value {
    match result.actions.as_slice() {
        [Action::UpdateStatus(json)] => serde_json::from_str(json).unwrap_or_default(),
        other => panic!("expected one status update, got {}", describe(other)),
    }
}

/// The pods `result` deletes, as `namespace/name`.
pub fn evicted(result: &ReconcileResult) -> Vec<String> {
    result
        .actions
        .iter()
        .map(|action| match action {
            Action::Delete(d) if d.target.kind == "Pod" && d.propagation.is_none() => {
                format!("{}/{}", d.target.namespace, d.target.name)
            }
            other => panic!(
                "expected pod deletes, got {}",
                describe(std::slice::from_ref(other))
            ),
        })
        .collect()
}

/// Actions as short words, for failure messages.
pub fn describe(actions: &[Action]) -> String {
    let words: Vec<&str> = actions
        .iter()
        .map(|a| match a {
            Action::Create(_) => "create",
            Action::Update(_) => "update",
            Action::UpdateStatus(_) => "update-status",
            Action::Delete(_) => "delete",
        })
        .collect();
    format!("[{}]", words.join(", "))
}

/// The condition of `condition_type` in `node`.
pub fn condition(node: &Value, condition_type: &str) -> Value {
    node["status"]["conditions"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["type"] == condition_type))
        .cloned()
        .unwrap_or(Value::Null)
}
