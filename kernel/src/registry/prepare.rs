//! The metadata rules of create and update, as pure functions from the
//! client's object (and the stored one) to what gets stored: names, uid,
//! timestamps, generation, the status/spec split, and finalizers.

use serde_json::Value;

use super::error::{ApiError, Result};
use crate::object::ResourceType;
use crate::object::meta::{self, finalizers, meta_mut, meta_str};
use crate::object::resource::StatusOnCreate;

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The object (its status is kept for kinds with a status subresource).
    Main,
    /// The `status` subresource: only status changes.
    Status,
    /// The object and its status together: the server's own writes that change both in
    /// one step (a binding sets `spec.nodeName` and the `PodScheduled` condition).
    Whole,
}

/// What an update turns into.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Store this object.
    Update(Value),
    /// The last finalizer of an object being deleted is gone: remove it.
    Delete(Value),
}

/// Checks `apiVersion` and `kind` (filling them in when absent).
pub fn check_type(rt: &ResourceType, obj: &mut Value) -> Result<()> {
    let map = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::BadRequest("the body must be a JSON object".into()))?;
    let want_av = rt.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(av) if av != want_av => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({av}) does not match the expected API version ({want_av})"
            )));
        }
        Some(_) => {}
        None => {
            map.insert("apiVersion".into(), Value::String(want_av));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if k != rt.kind => {
            return Err(ApiError::BadRequest(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
        Some(_) => {}
        None => {
            map.insert("kind".into(), Value::String(rt.kind.to_string()));
        }
    }
    Ok(())
}

/// Checks the object's namespace against the path's and fills it in.
pub fn check_namespace(rt: &ResourceType, obj: &mut Value, ns: Option<&str>) -> Result<()> {
    let body_ns = meta_str(obj, "namespace").map(str::to_string);
    match (rt.namespaced, ns, body_ns.as_deref()) {
        (true, Some(path), Some(body)) if !body.is_empty() && body != path => {
            Err(ApiError::BadRequest(format!(
                "the namespace of the provided object ({body}) does not match the namespace sent on the request ({path})"
            )))
        }
        (true, Some(path), _) => {
            meta_mut(obj).insert("namespace".into(), Value::String(path.to_string()));
            Ok(())
        }
        (true, None, _) => Err(ApiError::BadRequest(format!(
            "{} are namespaced: use a path under /namespaces/{{namespace}}/",
            rt.plural
        ))),
        (false, _, _) => {
            meta_mut(obj).remove("namespace");
            Ok(())
        }
    }
}

/// The object a create stores (without `resourceVersion`, which the store
/// stamps). Returns whether the name was generated.
pub fn for_create(rt: &ResourceType, ns: Option<&str>, mut obj: Value) -> Result<(Value, bool)> {
    check_type(rt, &mut obj)?;
    check_namespace(rt, &mut obj, ns)?;
    if meta_str(&obj, "resourceVersion").is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::BadRequest(
            "resourceVersion should not be set on objects to be created".into(),
        ));
    }
    let mut generated = false;
    let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => match meta_str(&obj, "generateName").filter(|n| !n.is_empty()) {
            Some(prefix) => {
                generated = true;
                meta::generate_name(prefix)
            }
            None => {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
        },
    };
    meta::validate_name(&name, rt.name_rule)
        .map_err(|m| ApiError::invalid(rt, &name, "metadata.name", m))?;
    let m = meta_mut(&mut obj);
    m.insert("name".into(), Value::String(name));
    m.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    m.insert(
        "creationTimestamp".into(),
        Value::String(meta::now_rfc3339()),
    );
    m.insert("generation".into(), Value::from(1));
    m.remove("resourceVersion");
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    if rt.status_on_create == StatusOnCreate::Drop
        && let Some(map) = obj.as_object_mut()
    {
        map.remove("status");
    }
    Ok((obj, generated))
}

/// A fresh name for a create whose generated name was taken.
pub fn regenerate_name(obj: &mut Value) {
    if let Some(prefix) = meta_str(obj, "generateName").map(str::to_string) {
        meta_mut(obj).insert("name".into(), Value::String(meta::generate_name(&prefix)));
    }
}

/// Whether `a` and `b` are the same outside `metadata` and `status`: a change there is a
/// change of intent and bumps `metadata.generation`. Compared in place, without copies.
fn same_intent(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let intent = |(key, _): &(&String, &Value)| !matches!(key.as_str(), "metadata" | "status");
    a.iter().filter(intent).count() == b.iter().filter(intent).count()
        && a.iter()
            .filter(intent)
            .all(|(key, value)| b.get(key) == Some(value))
}

/// What an update of `part` stores, given the stored object and the one the
/// client proposes.
pub fn for_update(rt: &ResourceType, current: &Value, proposed: Value, part: Part) -> Result<Next> {
    let name = meta_str(current, "name").unwrap_or_default().to_string();
    let mut next = match part {
        Part::Status => {
            let mut next = current.clone();
            if let Some(map) = next.as_object_mut() {
                match proposed.get("status") {
                    Some(s) => map.insert("status".into(), s.clone()),
                    None => map.remove("status"),
                };
            }
            next
        }
        Part::Main | Part::Whole => {
            let mut next = proposed;
            check_type(rt, &mut next)?;
            if let Some(uid) = meta_str(&next, "uid").filter(|u| !u.is_empty()) {
                let cur_uid = meta_str(current, "uid").unwrap_or_default();
                if uid != cur_uid {
                    return Err(ApiError::conflict(
                        rt,
                        &name,
                        format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {cur_uid}"
                        ),
                    ));
                }
            }
            if part == Part::Main
                && rt.status_subresource
                && let Some(map) = next.as_object_mut()
            {
                match current.get("status") {
                    Some(s) => map.insert("status".into(), s.clone()),
                    None => map.remove("status"),
                };
            }
            next
        }
    };
    // Fields a client cannot change.
    let cur_meta = current.get("metadata").and_then(Value::as_object);
    let cur_field = |field: &str| cur_meta.and_then(|m| m.get(field));
    let m = meta_mut(&mut next);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match cur_field(field) {
            Some(v) => m.insert(field.into(), v.clone()),
            None => m.remove(field),
        };
    }
    m.remove("resourceVersion");
    if part != Part::Status && !same_intent(current, &next) {
        let generation = cur_field("generation").and_then(Value::as_i64).unwrap_or(0) + 1;
        meta_mut(&mut next).insert("generation".into(), Value::from(generation));
    }
    if cur_field("deletionTimestamp").is_some() {
        let old = finalizers(current);
        let new = finalizers(&next);
        if new.iter().any(|f| !old.contains(f)) {
            return Err(ApiError::invalid(
                rt,
                &name,
                "metadata.finalizers",
                "Forbidden: no new finalizers can be added if the object is being deleted",
            ));
        }
        // A pod within its grace period stays (its agent removes it) even with no
        // finalizers left, as Kubernetes' `ShouldDeleteDuringUpdate` decides.
        if !meta::held_after_deletion(&next) {
            return Ok(Next::Delete(next));
        }
    }
    Ok(Next::Update(next))
}

/// Marks an object as being deleted (it has finalizers to wait for, or a pod `grace`
/// seconds to stop), adding `finalizer` (the garbage collector's, for foreground and
/// orphan deletion) when it is not there.
pub fn mark_deleting(current: &Value, finalizer: Option<&str>, grace: i64) -> Value {
    let mut next = current.clone();
    let m = meta_mut(&mut next);
    if let Some(finalizer) = finalizer {
        let list = m
            .entry("finalizers")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        if let Value::Array(list) = list
            && !list.iter().any(|f| f == finalizer)
        {
            list.push(Value::String(finalizer.into()));
        }
    }
    m.insert(
        "deletionTimestamp".into(),
        Value::String(meta::rfc3339_in(grace)),
    );
    m.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
    m.remove("resourceVersion");
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Registry;
    use serde_json::json;

    fn kind(plural: &str) -> &'static ResourceType {
        let group = if plural == "deployments" { "apps" } else { "" };
        Registry::default()
            .by_path(group, "v1", plural)
            .unwrap_or_else(|| panic!("{plural} is served"))
    }

    #[test]
    fn create_fills_metadata_and_checks_names() {
        let cm = kind("configmaps");
        let (obj, generated) = for_create(
            cm,
            Some("ns"),
            json!({"metadata": {"name": "a"}, "data": {}}),
        )
        .expect("valid");
        assert!(!generated);
        assert_eq!(obj["apiVersion"], "v1");
        assert_eq!(obj["kind"], "ConfigMap");
        assert_eq!(obj["metadata"]["namespace"], "ns");
        assert_eq!(obj["metadata"]["generation"], 1);
        assert!(
            obj["metadata"]["uid"]
                .as_str()
                .is_some_and(|u| u.len() == 36)
        );
        let (obj, generated) = for_create(
            cm,
            Some("ns"),
            json!({"metadata": {"generateName": "web-"}}),
        )
        .expect("valid");
        assert!(generated && meta_str(&obj, "name").is_some_and(|n| n.starts_with("web-")));
        let err = for_create(cm, Some("ns"), json!({"metadata": {"name": "Bad_Name"}})).err();
        assert_eq!(err.map(|e| e.code()), Some(422));
        let err = for_create(cm, Some("ns"), json!({"metadata": {}})).err();
        assert_eq!(err.map(|e| e.code()), Some(422));
        let err = for_create(
            cm,
            Some("ns"),
            json!({"kind": "Secret", "metadata": {"name": "a"}}),
        )
        .err();
        assert_eq!(err.map(|e| e.code()), Some(400));
        let err = for_create(
            cm,
            Some("ns"),
            json!({"metadata": {"name": "a", "namespace": "other"}}),
        )
        .err();
        assert_eq!(err.map(|e| e.code()), Some(400));
        let (pod, _) = for_create(
            kind("pods"),
            Some("ns"),
            json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}}),
        )
        .expect("valid");
        assert!(
            pod.get("status").is_none(),
            "status is written through the subresource"
        );
    }

    #[test]
    fn intent_is_everything_but_metadata_and_status() {
        let a = json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "data": {"k": "v"}, "status": {"s": 1}});
        let mut b = a.clone();
        b["metadata"]["labels"] = json!({"l": "1"});
        b["status"] = json!({"s": 2});
        assert!(same_intent(&a, &b), "metadata and status are not intent");
        let mut added = a.clone();
        added["extra"] = json!(true);
        assert!(!same_intent(&a, &added) && !same_intent(&added, &a));
        let mut renamed = a.clone();
        renamed.as_object_mut().map(|m| m.remove("data"));
        renamed["other"] = json!({"k": "v"});
        assert!(!same_intent(&a, &renamed), "same count, another key");
        let mut changed = a.clone();
        changed["data"]["k"] = json!("w");
        assert!(!same_intent(&a, &changed));
        assert!(same_intent(&json!([1]), &json!([1])) && !same_intent(&json!(1), &json!({})));
    }

    #[test]
    fn generation_follows_spec_and_status_is_separate() {
        let d = kind("deployments");
        let cur = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "ns", "uid": "u1", "generation": 3, "creationTimestamp": "t"},
            "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let mut proposed = cur.clone();
        proposed["spec"]["replicas"] = json!(2);
        proposed["status"]["replicas"] = json!(9);
        proposed["metadata"]["uid"] = json!(null);
        let Ok(Next::Update(next)) = for_update(d, &cur, proposed, Part::Main) else {
            panic!("an update")
        };
        assert_eq!(next["metadata"]["generation"], 4);
        assert_eq!(next["status"]["replicas"], 1, "main writes keep status");
        assert_eq!(next["metadata"]["uid"], "u1");
        let mut status = cur.clone();
        status["status"]["replicas"] = json!(5);
        status["spec"]["replicas"] = json!(7);
        let Ok(Next::Update(next)) = for_update(d, &cur, status, Part::Status) else {
            panic!("an update")
        };
        assert_eq!(next["metadata"]["generation"], 3);
        assert_eq!(next["spec"]["replicas"], 1, "status writes keep spec");
        assert_eq!(next["status"]["replicas"], 5);
        let mut labels_only = cur.clone();
        labels_only["metadata"]["labels"] = json!({"a": "b"});
        let Ok(Next::Update(next)) = for_update(d, &cur, labels_only, Part::Main) else {
            panic!("an update")
        };
        assert_eq!(next["metadata"]["generation"], 3);
        let mut wrong_uid = cur.clone();
        wrong_uid["metadata"]["uid"] = json!("u2");
        assert_eq!(
            for_update(d, &cur, wrong_uid, Part::Main)
                .err()
                .map(|e| e.code()),
            Some(409)
        );
    }

    #[test]
    fn finalizers_gate_deletion() {
        let cm = kind("configmaps");
        let cur = mark_deleting(
            &json!({"metadata": {"name": "c", "finalizers": ["a", "b"]}}),
            None,
            0,
        );
        let mut one_left = cur.clone();
        one_left["metadata"]["finalizers"] = json!(["b"]);
        assert!(matches!(
            for_update(cm, &cur, one_left, Part::Main),
            Ok(Next::Update(_))
        ));
        let mut none_left = cur.clone();
        none_left["metadata"]["finalizers"] = json!([]);
        assert!(matches!(
            for_update(cm, &cur, none_left, Part::Main),
            Ok(Next::Delete(_))
        ));
        let mut added = cur.clone();
        added["metadata"]["finalizers"] = json!(["a", "b", "c"]);
        assert_eq!(
            for_update(cm, &cur, added, Part::Main)
                .err()
                .map(|e| e.code()),
            Some(422)
        );
    }

    #[test]
    fn a_pod_in_its_grace_period_is_updated_not_deleted() {
        let pods = kind("pods");
        let marked = mark_deleting(
            &json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}}),
            None,
            30,
        );
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
        let mut status = marked.clone();
        status["status"] = json!({"phase": "Running"});
        assert!(matches!(
            for_update(pods, &marked, status, Part::Status),
            Ok(Next::Update(_))
        ));
    }
}
