//! Reconcile-level tests: a [`FakeView`] holding a ReplicaSet and pods, one `reconcile`, and
//! assertions on the answer. Fixtures and answer readers live here; each submodule covers
//! one documented behaviour of Kubernetes' ReplicaSet controller.

mod errors;
mod ownership;
mod scaling;
mod status;

use keel_sdk::controller::testing::FakeView;
use keel_sdk::controller::{
    Action, ObjectRef, PluginError, ReconcileResult, Reconciler, objects, time,
};
use serde_json::{Value, json};

use crate::ReplicaSetController;

/// The namespace everything is in.
pub const NS: &str = "default";
/// The ReplicaSet's uid.
pub const RS_UID: &str = "uid-web";
/// 2026-01-01T00:00:00Z.
pub const NOW: u64 = 1_767_225_600_000;

/// `seconds_ago` before [`NOW`], as a timestamp.
pub fn at(seconds_ago: u64) -> String {
    time::format_rfc3339(NOW - seconds_ago * 1000)
}

/// ReplicaSet `web` (generation 1) wanting `replicas` pods labelled `app=web`, with no
/// status yet.
pub fn replica_set(replicas: u64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": NS, "uid": RS_UID, "generation": 1,
                     "resourceVersion": "100", "creationTimestamp": at(86_400)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"note": "from-template"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    })
}

/// `rs` with the status the controller writes for `replicas` owned pods of which `ready`
/// are ready and `available` available (all fully labelled, none terminating).
pub fn settled(mut rs: Value, replicas: usize, ready: usize, available: usize) -> Value {
    let counts = crate::status::Counts {
        replicas,
        fully_labeled: replicas,
        ready,
        available,
        terminating: Some(0),
    };
    if let Some(updated) = crate::status::updated(&rs, &counts) {
        rs = updated;
    }
    rs
}

/// Pod `name` of `web`: labelled `app=web`, controlled by it, running and ready on node n1
/// for an hour.
pub fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name, "namespace": NS, "uid": format!("uid-{name}"),
            "resourceVersion": "7", "creationTimestamp": at(3600),
            "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                 "uid": RS_UID, "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx"}]},
        "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": at(3600)}]},
    })
}

/// `pod` with no owner references.
pub fn orphan(mut pod: Value) -> Value {
    pod["metadata"]["ownerReferences"] = json!([]);
    pod
}

/// `pod` not ready.
pub fn not_ready(mut pod: Value) -> Value {
    pod["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
    pod
}

/// `pod` being deleted.
pub fn deleting(mut pod: Value) -> Value {
    pod["metadata"]["deletionTimestamp"] = json!(at(1));
    pod
}

/// A view at [`NOW`] holding `rs` and `pods`.
pub fn view(rs: &Value, pods: &[Value]) -> FakeView {
    let mut view = FakeView::new()
        .at(NOW)
        .with("apps", "ReplicaSet", rs.clone());
    for pod in pods {
        view.put("", "Pod", pod.clone());
    }
    view
}

/// Reconciles `rs` over `view` with the default configuration.
pub fn reconcile(view: &FakeView, rs: &Value) -> Result<ReconcileResult, PluginError> {
    reconcile_with("null", view, rs)
}

/// Reconciles `rs` over `view` with configuration `config`.
pub fn reconcile_with(
    config: &str,
    view: &FakeView,
    rs: &Value,
) -> Result<ReconcileResult, PluginError> {
    let controller = ReplicaSetController::new(config)?;
    let key = ObjectRef::new(
        "apps",
        "ReplicaSet",
        objects::namespace(rs),
        objects::name(rs),
    );
    controller.reconcile(view, &key, Some(rs.clone()))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The objects the answer creates.
pub fn created(result: &ReconcileResult) -> Vec<Value> {
    result
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Create(text) => Some(parse(text)),
            _ => None,
        })
        .collect()
}

/// The objects the answer updates (not their status).
pub fn updated(result: &ReconcileResult) -> Vec<Value> {
    result
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Update(text) => Some(parse(text)),
            _ => None,
        })
        .collect()
}

/// The status updates of the answer.
pub fn status_updates(result: &ReconcileResult) -> Vec<Value> {
    result
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::UpdateStatus(text) => Some(parse(text)),
            _ => None,
        })
        .collect()
}

/// The names of the pods the answer deletes, in order; each delete must be a Pod's, guarded
/// by its uid, with the default propagation.
pub fn deleted(result: &ReconcileResult) -> Vec<String> {
    result
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Delete(deletion) => {
                assert_eq!(
                    (
                        deletion.target.group.as_str(),
                        deletion.target.kind.as_str()
                    ),
                    ("", "Pod")
                );
                assert_eq!(deletion.target.namespace, NS);
                assert_eq!(
                    deletion.uid.as_deref(),
                    Some(format!("uid-{}", deletion.target.name).as_str())
                );
                assert!(deletion.propagation.is_none());
                Some(deletion.target.name.clone())
            }
            _ => None,
        })
        .collect()
}

/// The status the answer writes (None: it writes none).
pub fn written_status(result: &ReconcileResult) -> Option<Value> {
    status_updates(result)
        .into_iter()
        .next()
        .map(|rs| rs["status"].clone())
}

/// What kind each action is, in order: `create`, `update`, `status` or `delete`.
pub fn kinds(result: &ReconcileResult) -> Vec<&'static str> {
    result
        .actions
        .iter()
        .map(|a| match a {
            Action::Create(_) => "create",
            Action::Update(_) => "update",
            Action::UpdateStatus(_) => "status",
            Action::Delete(_) => "delete",
        })
        .collect()
}
