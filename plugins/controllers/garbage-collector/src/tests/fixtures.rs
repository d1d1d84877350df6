//! Objects and references the tests build, and a readable form of the actions answered.

use keel_sdk::controller::testing::FakeView;
use keel_sdk::controller::{Action, ObjectRef, Propagation, ReconcileResult, Reconciler};
use serde_json::{Value, json};

use crate::GarbageCollector;

/// The collector with its default kinds.
pub fn collector() -> GarbageCollector {
    collector_with("null")
}

/// The collector configured with `config`.
pub fn collector_with(config: &str) -> GarbageCollector {
    match GarbageCollector::new(config) {
        Ok(gc) => gc,
        Err(e) => panic!("configuration refused: {}", e.message),
    }
}

/// An object named `name` in `namespace` with `uid` (resourceVersion "1").
pub fn object(api_version: &str, kind: &str, namespace: &str, name: &str, uid: &str) -> Value {
    let mut metadata = json!({"name": name, "uid": uid, "resourceVersion": "1"});
    if !namespace.is_empty() {
        metadata["namespace"] = json!(namespace);
    }
    json!({"apiVersion": api_version, "kind": kind, "metadata": metadata})
}

/// A pod in `default`.
pub fn pod(name: &str, uid: &str) -> Value {
    object("v1", "Pod", "default", name, uid)
}

/// A ReplicaSet in `default`.
pub fn replica_set(name: &str, uid: &str) -> Value {
    object("apps/v1", "ReplicaSet", "default", name, uid)
}

/// A Deployment in `default`.
pub fn deployment(name: &str, uid: &str) -> Value {
    object("apps/v1", "Deployment", "default", name, uid)
}

/// An owner reference to `owner` (read from its apiVersion, kind, name and uid).
pub fn reference_to(owner: &Value, block_owner_deletion: bool) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": block_owner_deletion,
    })
}

/// `object` with these owner references.
pub fn owned_by(mut object: Value, references: &[Value]) -> Value {
    object["metadata"]["ownerReferences"] = json!(references);
    object
}

/// `object` being deleted, with these finalizers.
pub fn deleting(mut object: Value, finalizers: &[&str]) -> Value {
    object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    object["metadata"]["finalizers"] = json!(finalizers);
    object
}

/// The group of an object's apiVersion ("" for `v1`).
pub fn group_of(object: &Value) -> String {
    object["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .map(|(group, _)| group.to_string())
        .unwrap_or_default()
}

/// A view holding `objects` (group and kind read from each).
pub fn view_of(objects: &[&Value]) -> FakeView {
    objects.iter().fold(FakeView::new(), |view, object| {
        let kind = object["kind"].as_str().unwrap_or_default();
        view.with(&group_of(object), kind, (*object).clone())
    })
}

/// Reconciles `object` (its key read from it) against `view`, with the default kinds.
pub fn reconcile(view: &FakeView, object: &Value) -> ReconcileResult {
    reconcile_with(&collector(), view, object)
}

/// Reconciles `object` (its key read from it) against `view` with `gc`.
pub fn reconcile_with(gc: &GarbageCollector, view: &FakeView, object: &Value) -> ReconcileResult {
    let key = ObjectRef::new(
        &group_of(object),
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["namespace"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default(),
    );
    match gc.reconcile(view, &key, Some(object.clone())) {
        Ok(result) => result,
        Err(e) => panic!("reconcile failed: {}", e.message),
    }
}

/// An action as a line: `delete Pod default/p1 uid=u Background`, `update Pod default/p1`,
/// followed for updates by nothing (use [`updated`] to read the object).
pub fn describe(action: &Action) -> String {
    match action {
        Action::Create(json) => format!("create {}", summary(json)),
        Action::Update(json) => format!("update {}", summary(json)),
        Action::UpdateStatus(json) => format!("update-status {}", summary(json)),
        Action::Delete(d) => {
            let propagation = match d.propagation {
                Some(Propagation::Background) => "Background",
                Some(Propagation::Foreground) => "Foreground",
                Some(Propagation::Orphan) => "Orphan",
                None => "default",
            };
            let target = &d.target;
            let namespaced = if target.namespace.is_empty() {
                target.name.clone()
            } else {
                format!("{}/{}", target.namespace, target.name)
            };
            format!(
                "delete {} {namespaced} uid={} {propagation}",
                target.kind,
                d.uid.as_deref().unwrap_or("-")
            )
        }
    }
}

fn summary(json: &str) -> String {
    let object: Value = serde_json::from_str(json).unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!(
            "{} {ns}/{name}",
            object["kind"].as_str().unwrap_or_default()
        ),
        None => format!("{} {name}", object["kind"].as_str().unwrap_or_default()),
    }
}

/// Every action of `result` as a line.
pub fn lines(result: &ReconcileResult) -> Vec<String> {
    result.actions.iter().map(describe).collect()
}

/// The object an update (or status update) sends.
pub fn updated(action: &Action) -> Value {
    match action {
        Action::Update(json) | Action::UpdateStatus(json) => {
            serde_json::from_str(json).unwrap_or_default()
        }
        other => panic!("not an update: {}", describe(other)),
    }
}

/// The uids an object's owner references name.
pub fn owner_uids(object: &Value) -> Vec<String> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r["uid"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
