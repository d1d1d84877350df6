//! A ReplicaSet as one reconcile works on it: the object read from the cache (none for
//! one this reconcile creates) and its working copy, with readers for the fields the
//! Deployment controller uses, and Kubernetes' orderings of ReplicaSets (by creation,
//! by size, by revision).

use std::cmp::Ordering;

use keel_sdk::controller::{objects, time};
use keel_sdk::json::At;
use serde_json::{Map, Value, json};

use crate::annotations::REVISION;

/// One ReplicaSet of the Deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaSet {
    /// As read (None: created by this reconcile).
    pub original: Option<Value>,
    /// The working copy: what this reconcile wants it to be.
    pub object: Value,
}

impl ReplicaSet {
    /// One read from the cache, not changed yet.
    pub fn read(object: Value) -> ReplicaSet {
        ReplicaSet {
            original: Some(object.clone()),
            object,
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        objects::name(&self.object)
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        objects::uid(&self.object)
    }

    /// `spec.replicas` (1 when unset, as `apps/v1` defaults it).
    pub fn replicas(&self) -> i64 {
        self.int("/spec/replicas").unwrap_or(1)
    }

    /// Sets `spec.replicas`.
    pub fn set_replicas(&mut self, replicas: i64) {
        if let Some(spec) = object_at(&mut self.object, "spec") {
            spec.insert("replicas".into(), json!(replicas));
        }
    }

    /// `status.replicas`: the pods it has (not being deleted).
    pub fn status_replicas(&self) -> i64 {
        self.int("/status/replicas").unwrap_or(0)
    }

    /// `status.readyReplicas`.
    pub fn ready_replicas(&self) -> i64 {
        self.int("/status/readyReplicas").unwrap_or(0)
    }

    /// `status.availableReplicas`.
    pub fn available_replicas(&self) -> i64 {
        self.int("/status/availableReplicas").unwrap_or(0)
    }

    /// The available pods it will keep: `status.availableReplicas`, but no more than
    /// `spec.replicas` (a ReplicaSet just scaled down whose status has not caught up yet
    /// is about to lose the pods above its spec).
    pub fn kept_available(&self) -> i64 {
        self.available_replicas().min(self.replicas()).max(0)
    }

    /// The pods it has or is about to have: the larger of `spec.replicas` and
    /// `status.replicas` (pods of a ReplicaSet just scaled down are still there until
    /// its status says they are gone).
    pub fn pods_at_most(&self) -> i64 {
        self.replicas().max(self.status_replicas())
    }

    /// `metadata.generation`.
    pub fn generation(&self) -> i64 {
        self.int("/metadata/generation").unwrap_or(0)
    }

    /// `status.observedGeneration`.
    pub fn observed_generation(&self) -> i64 {
        self.int("/status/observedGeneration").unwrap_or(0)
    }

    /// `spec.template`.
    pub fn template(&self) -> &Value {
        self.object.at("/spec/template").unwrap_or(&Value::Null)
    }

    /// The annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.object
            .at("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }

    /// `metadata.annotations`, created when absent.
    pub fn annotations_mut(&mut self) -> Option<&mut Map<String, Value>> {
        object_at(
            object_at(&mut self.object, "metadata")?
                .entry("annotations")
                .or_insert(json!({})),
            "",
        )
    }

    /// The revision annotation: 0 when absent, None when it is not a number
    /// (`deploymentutil.Revision`).
    pub fn revision(&self) -> Option<i64> {
        match self.annotation(REVISION) {
            None => Some(0),
            Some(text) => text.parse().ok(),
        }
    }

    /// `metadata.creationTimestamp` in milliseconds (0 when unset: created by this
    /// reconcile, or unknown).
    pub fn created_millis(&self) -> u64 {
        self.object
            .at("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .and_then(time::parse_rfc3339)
            .unwrap_or(if self.original.is_none() { u64::MAX } else { 0 })
    }

    /// Whether it is being deleted.
    pub fn is_deleting(&self) -> bool {
        objects::is_deleting(&self.object)
    }

    /// Whether the working copy differs from what was read.
    pub fn changed(&self) -> bool {
        self.original.as_ref() != Some(&self.object)
    }

    fn int(&self, pointer: &str) -> Option<i64> {
        self.object.at(pointer).and_then(Value::as_i64)
    }
}

/// The map at `field` of `value` (`value` itself when `field` is empty), made a map
/// when it is something else.
fn object_at<'a>(value: &'a mut Value, field: &str) -> Option<&'a mut Map<String, Value>> {
    let target = if field.is_empty() {
        value
    } else {
        value.as_object_mut()?.entry(field).or_insert(json!({}))
    };
    if !target.is_object() {
        *target = json!({});
    }
    target.as_object_mut()
}

/// `ReplicaSetsByCreationTimestamp`: oldest first, then by name.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    a.created_millis()
        .cmp(&b.created_millis())
        .then_with(|| a.name().cmp(b.name()))
}

/// `ReplicaSetsBySizeOlder`: largest first; among equals, oldest first (scaling down).
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    b.replicas()
        .cmp(&a.replicas())
        .then_with(|| by_creation(a, b))
}

/// `ReplicaSetsBySizeNewer`: largest first; among equals, newest first (scaling up).
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    b.replicas()
        .cmp(&a.replicas())
        .then_with(|| by_creation(b, a))
}

/// `ReplicaSetsByRevision`: lowest revision first; equal or unreadable revisions by
/// creation.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    match (a.revision(), b.revision()) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        _ => by_creation(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(name: &str, created: &str, replicas: i64, revision: &str) -> ReplicaSet {
        ReplicaSet::read(json!({
            "metadata": {"name": name, "creationTimestamp": created,
                         "annotations": {REVISION: revision}},
            "spec": {"replicas": replicas},
            "status": {"replicas": 1, "availableReplicas": 3},
        }))
    }

    #[test]
    fn readers_default_as_apps_v1_does() {
        let bare = ReplicaSet::read(json!({"metadata": {"name": "a"}}));
        assert_eq!(bare.replicas(), 1);
        assert_eq!(bare.revision(), Some(0));
        assert_eq!(bare.available_replicas(), 0);
        let two = rs("a", "2024-01-01T00:00:00Z", 2, "x");
        assert_eq!(two.revision(), None);
        assert_eq!(two.kept_available(), 2, "no more available than its spec");
        assert_eq!(two.pods_at_most(), 2);
    }

    #[test]
    fn orderings_follow_kubernetes() {
        let old = rs("old", "2024-01-01T00:00:00Z", 2, "3");
        let new = rs("new", "2024-01-02T00:00:00Z", 2, "1");
        let big = rs("big", "2024-01-03T00:00:00Z", 5, "2");
        let mut list = vec![big.clone(), new.clone(), old.clone()];
        list.sort_by(by_creation);
        assert_eq!(names(&list), ["old", "new", "big"]);
        list.sort_by(by_size_older);
        assert_eq!(names(&list), ["big", "old", "new"]);
        list.sort_by(by_size_newer);
        assert_eq!(names(&list), ["big", "new", "old"]);
        list.sort_by(by_revision);
        assert_eq!(names(&list), ["new", "big", "old"]);
    }

    #[test]
    fn changes_are_tracked_against_what_was_read() {
        let mut a = rs("a", "2024-01-01T00:00:00Z", 2, "1");
        assert!(!a.changed());
        a.set_replicas(2);
        assert!(!a.changed());
        a.set_replicas(3);
        if let Some(annotations) = a.annotations_mut() {
            annotations.insert("k".into(), json!("v"));
        }
        assert!(a.changed());
        assert_eq!(a.annotation("k"), Some("v"));
    }

    fn names(list: &[ReplicaSet]) -> Vec<&str> {
        list.iter().map(ReplicaSet::name).collect()
    }
}
