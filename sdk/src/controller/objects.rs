//! Reading and writing the parts of objects every controller touches: metadata,
//! `ownerReferences`, conditions, and a pod's readiness, as Kubernetes defines them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::time;
use crate::json::At;
use crate::labels::{LabelSelector, Selector, SelectorError};

/// `metadata.name` ("" when unset).
pub fn name(object: &Value) -> &str {
    meta_str(object, "name")
}

/// `metadata.namespace` ("" when unset).
pub fn namespace(object: &Value) -> &str {
    meta_str(object, "namespace")
}

/// `metadata.uid` ("" when unset).
pub fn uid(object: &Value) -> &str {
    meta_str(object, "uid")
}

fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata.labels`.
pub fn labels(object: &Value) -> BTreeMap<String, String> {
    string_map(object.at("/metadata/labels"))
}

/// `metadata.annotations`.
pub fn annotations(object: &Value) -> BTreeMap<String, String> {
    string_map(object.at("/metadata/annotations"))
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the object is being deleted (`metadata.deletionTimestamp` set).
pub fn is_deleting(object: &Value) -> bool {
    object
        .at("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// `metadata.finalizers`.
pub fn finalizers(object: &Value) -> Vec<String> {
    object
        .at("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| Some(f.as_str()?.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// One entry of `metadata.ownerReferences`.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    /// `apps/v1`, `v1`.
    pub api_version: String,
    /// `ReplicaSet`.
    pub kind: String,
    /// The owner's name (in the dependent's namespace, or cluster-scoped).
    pub name: String,
    /// The owner's uid: a reference to an owner re-created under the same name is dangling.
    pub uid: String,
    /// Whether this owner is the dependent's managing controller (at most one is).
    #[serde(default)]
    pub controller: Option<bool>,
    /// Whether foreground deletion of the owner waits for this dependent.
    #[serde(default)]
    pub block_owner_deletion: Option<bool>,
}

impl OwnerReference {
    /// The owner's API group (`apps` for `apps/v1`, "" for `v1`).
    pub fn group(&self) -> &str {
        self.api_version
            .split_once('/')
            .map(|(group, _)| group)
            .unwrap_or_default()
    }

    /// Whether it names the managing controller.
    pub fn is_controller(&self) -> bool {
        self.controller == Some(true)
    }
}

/// `metadata.ownerReferences` (entries that do not parse are skipped).
pub fn owner_references(object: &Value) -> Vec<OwnerReference> {
    object
        .at("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| OwnerReference::deserialize(r).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The owner reference with `controller: true`, if any.
pub fn controller_ref(object: &Value) -> Option<OwnerReference> {
    owner_references(object)
        .into_iter()
        .find(OwnerReference::is_controller)
}

/// The reference a controller puts in the objects it creates or adopts: `owner` (of
/// `api_version`/`kind`) as managing controller, blocking the owner's foreground deletion.
pub fn controller_reference(api_version: &str, kind: &str, owner: &Value) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// `object` with `reference` appended to its `ownerReferences`.
pub fn with_owner_reference(mut object: Value, reference: Value) -> Value {
    let metadata = object
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})));
    if let Some(Value::Object(metadata)) = metadata {
        let refs = metadata
            .entry("ownerReferences")
            .or_insert_with(|| json!([]));
        if let Value::Array(refs) = refs {
            refs.push(reference);
        } else {
            *refs = json!([reference]);
        }
    }
    object
}

/// `object` without the owner references to `owner_uid`.
pub fn without_owner_reference(mut object: Value, owner_uid: &str) -> Value {
    if let Some(Value::Array(refs)) = object.pointer_mut("/metadata/ownerReferences") {
        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
    }
    object
}

/// The selector at `pointer` in `object` (a `metav1.LabelSelector`; absent is null and
/// matches nothing).
pub fn selector_at(object: &Value, pointer: &str) -> Result<Selector, SelectorError> {
    let json = match object.at(pointer) {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            LabelSelector::deserialize(value)
                .map_err(|e| SelectorError(format!("{pointer}: {e}")))?,
        ),
    };
    Selector::parse(json.as_ref())
}

/// The condition of `condition_type` in `object`'s `status.conditions`.
pub fn condition<'a>(object: &'a Value, condition_type: &str) -> Option<&'a Value> {
    object
        .at("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(condition_type))
}

/// Whether `object` has condition `condition_type` with status `"True"`.
pub fn condition_is_true(object: &Value, condition_type: &str) -> bool {
    condition(object, condition_type)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
}

/// A condition to set with [`set_condition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition<'a> {
    /// `Available`, `Progressing`, `Ready`.
    pub condition_type: &'a str,
    /// `True`, `False` or `Unknown`.
    pub status: &'a str,
    /// A CamelCase reason.
    pub reason: &'a str,
    /// A sentence for people.
    pub message: &'a str,
}

/// Sets a condition in `status.conditions` of `object`, as Kubernetes controllers do:
/// `lastTransitionTime` moves only when the status changes; `lastUpdateTime` (which
/// Deployments carry) moves on every change of reason or message.
pub fn set_condition(object: &mut Value, condition: &Condition<'_>, now_millis: u64) {
    let now = time::format_rfc3339(now_millis);
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let status = root.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Value::Array(conditions) = conditions else {
        return;
    };
    let existing = conditions
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(condition.condition_type));
    match existing {
        Some(existing) => {
            let same = |field: &str, value: &str| {
                existing.get(field).and_then(Value::as_str) == Some(value)
            };
            let status_changed = !same("status", condition.status);
            let changed = status_changed
                || !same("reason", condition.reason)
                || !same("message", condition.message);
            if !changed {
                return;
            }
            existing["status"] = json!(condition.status);
            existing["reason"] = json!(condition.reason);
            existing["message"] = json!(condition.message);
            existing["lastUpdateTime"] = json!(now);
            if status_changed {
                existing["lastTransitionTime"] = json!(now);
            }
        }
        None => conditions.push(json!({
            "type": condition.condition_type,
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        })),
    }
}

/// Whether a pod is active: not being deleted and not finished (phase neither
/// `Succeeded` nor `Failed`), as the ReplicaSet controller counts pods.
pub fn pod_is_active(pod: &Value) -> bool {
    let phase = pod.at("/status/phase").and_then(Value::as_str);
    !is_deleting(pod) && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// Whether a pod's `Ready` condition is `True`.
pub fn pod_is_ready(pod: &Value) -> bool {
    condition_is_true(pod, "Ready")
}

/// Whether a pod is available: ready for at least `min_ready_seconds` at `now_millis`
/// (Kubernetes' `IsPodAvailable`, timed from the Ready condition's `lastTransitionTime`).
pub fn pod_is_available(pod: &Value, min_ready_seconds: u64, now_millis: u64) -> bool {
    if !pod_is_ready(pod) {
        return false;
    }
    if min_ready_seconds == 0 {
        return true;
    }
    let since = condition(pod, "Ready")
        .and_then(|c| c.get("lastTransitionTime"))
        .and_then(Value::as_str)
        .and_then(time::parse_rfc3339);
    since.is_some_and(|since| since.saturating_add(min_ready_seconds * 1000) <= now_millis)
}

/// Milliseconds until a ready pod becomes available (None: it is not ready, or already is).
pub fn pod_available_in(pod: &Value, min_ready_seconds: u64, now_millis: u64) -> Option<u64> {
    if !pod_is_ready(pod) || min_ready_seconds == 0 {
        return None;
    }
    let since = condition(pod, "Ready")
        .and_then(|c| c.get("lastTransitionTime"))
        .and_then(Value::as_str)
        .and_then(time::parse_rfc3339)?;
    let at = since.saturating_add(min_ready_seconds * 1000);
    (at > now_millis).then(|| at - now_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_references_and_the_controller_among_them() {
        let pod = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u1"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u2", "controller": true},
        ]}});
        assert_eq!(owner_references(&pod).len(), 2);
        let controller = controller_ref(&pod);
        assert_eq!(controller.as_ref().map(|r| r.name.as_str()), Some("rs"));
        assert_eq!(controller.as_ref().map(OwnerReference::group), Some("apps"));
        let released = without_owner_reference(pod, "u2");
        assert_eq!(controller_ref(&released), None);
        let owner = json!({"metadata": {"name": "rs2", "uid": "u3"}});
        let adopted = with_owner_reference(
            released,
            controller_reference("apps/v1", "ReplicaSet", &owner),
        );
        assert_eq!(controller_ref(&adopted).map(|r| r.uid), Some("u3".into()));
    }

    #[test]
    fn a_condition_moves_its_transition_time_only_when_its_status_changes() {
        let mut d = json!({});
        let available = |status| Condition {
            condition_type: "Available",
            status,
            reason: "MinimumReplicasAvailable",
            message: "m",
        };
        set_condition(&mut d, &available("True"), 1_000);
        set_condition(&mut d, &available("True"), 5_000);
        let c = condition(&d, "Available").cloned().unwrap_or_default();
        assert_eq!(c["lastTransitionTime"], "1970-01-01T00:00:01Z");
        set_condition(&mut d, &available("False"), 9_000);
        let c = condition(&d, "Available").cloned().unwrap_or_default();
        assert_eq!(c["lastTransitionTime"], "1970-01-01T00:00:09Z");
        assert!(!condition_is_true(&d, "Available"));
    }

    #[test]
    fn availability_waits_min_ready_seconds_after_ready() {
        let pod = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "1970-01-01T00:00:10Z"}
        ]}});
        assert!(pod_is_available(&pod, 0, 0));
        assert!(!pod_is_available(&pod, 5, 14_999));
        assert!(pod_is_available(&pod, 5, 15_000));
        assert_eq!(pod_available_in(&pod, 5, 12_000), Some(3_000));
        assert!(!pod_is_available(&json!({}), 0, 0));
    }

    #[test]
    fn selectors_read_from_objects() -> Result<(), SelectorError> {
        let rs = json!({"spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let selector = selector_at(&rs, "/spec/selector")?;
        let labels: BTreeMap<String, String> = [("app".into(), "web".into())].into();
        assert!(selector.matches(&labels));
        assert!(selector_at(&rs, "/spec/missing")?.is_nothing());
        Ok(())
    }
}
