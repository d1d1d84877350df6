//! Tests of reading quotas, recounting usage from the cache and the status a charge writes.

use std::collections::BTreeMap;

use keel_sdk::quantity::Quantity;
use serde_json::json;

use super::*;

/// A namespace's cached objects, by kind.
#[derive(Default)]
struct Fake(BTreeMap<&'static str, Vec<Value>>);

impl Objects for Fake {
    fn list(&self, kind: &str) -> Vec<Value> {
        self.0.get(kind).cloned().unwrap_or_default()
    }
}

fn quota(value: Value) -> Quota {
    match Quota::read(value) {
        Ok(q) => q,
        Err(why) => panic!("{why}"),
    }
}

fn pod(name: &str, cpu: &str, phase: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c",
        "resources": {"requests": {"cpu": cpu}}}]}, "status": {"phase": phase}})
}

fn printed(usage: &Usage) -> BTreeMap<String, String> {
    usage
        .iter()
        .map(|(k, q)| (k.clone(), q.to_string()))
        .collect()
}

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_status_matching_the_spec_is_used_as_recorded() {
    let q = quota(
        json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10"}},
        "status": {"hard": {"pods": "10"}, "used": {"pods": "3", "other": "1"}}}),
    );
    assert!(!q.needs_recount());
    let used = q.used(&Fake::default(), None);
    assert_eq!(printed(&used), strings(&[("pods", "3")]));
}

/// A new quota (no status), an edited one (status.hard differs) or one whose used lacks a
/// hard resource is recounted.
#[test]
fn new_or_edited_quotas_are_recounted() {
    for status in [
        json!(null),
        json!({"hard": {"pods": "5"}, "used": {"pods": "3"}}),
        json!({"hard": {"pods": "10", "secrets": "1"}, "used": {"pods": "3"}}),
    ] {
        let q = quota(json!({"metadata": {"name": "q"},
            "spec": {"hard": {"pods": "10", "secrets": "1"}}, "status": status}));
        assert!(q.needs_recount(), "{}", q.object);
    }
}

/// Recount: running pods count, finished ones only for count/pods; the subject (being
/// created) is left out; kinds the cache does not hold keep their recorded value.
#[test]
fn recount_measures_cached_objects() {
    let mut objects = Fake::default();
    objects.0.insert(
        "Pod",
        vec![
            pod("a", "100m", "Running"),
            pod("b", "250m", "Pending"),
            pod("done", "1", "Succeeded"),
            pod("new", "5", "Pending"),
        ],
    );
    objects
        .0
        .insert("Secret", vec![json!({"metadata": {"name": "s"}})]);
    let hard = read(Some(
        &json!({"pods": "10", "count/pods": "10", "requests.cpu": "4",
        "secrets": "5", "count/deployments.apps": "3"}),
    ));
    let partial = read(Some(&json!({"count/deployments.apps": "2", "pods": "99"})));
    let subject = Subject {
        kind: Kind {
            group: "",
            kind: "Pod",
            plural: "pods",
        },
        name: "new",
    };
    let used = recount(&hard, &partial, &Scopes::default(), &objects, Some(subject));
    assert_eq!(
        printed(&used),
        strings(&[
            ("count/deployments.apps", "2"),
            ("count/pods", "3"),
            ("pods", "2"),
            ("requests.cpu", "350m"),
            ("secrets", "1")
        ])
    );
}

/// The status update is the object as read (resourceVersion kept) with status.hard =
/// spec.hard and status.used for exactly the hard resources.
#[test]
fn with_used_keeps_metadata_and_sets_the_status() {
    let q = quota(json!({"apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "ns", "resourceVersion": "42", "uid": "u"},
        "spec": {"hard": {"pods": "10", "requests.memory": "1Gi"}}}));
    let mut used = Usage::new();
    used.insert("pods".into(), Quantity::from_units(2));
    used.insert(
        "requests.memory".into(),
        Quantity::from_units(512 * 1024 * 1024),
    );
    used.insert("unrelated".into(), Quantity::from_units(1));
    assert_eq!(
        q.with_used(&used),
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": "ns", "resourceVersion": "42", "uid": "u"},
            "spec": {"hard": {"pods": "10", "requests.memory": "1Gi"}},
            "status": {"hard": {"pods": "10", "requests.memory": "1Gi"},
                       "used": {"pods": "2", "requests.memory": "512Mi"}}})
    );
    // apiVersion and kind are filled in when the cached object lacks them.
    let bare =
        quota(json!({"metadata": {"name": "q", "resourceVersion": "1"}, "spec": {"hard": {}}}));
    let updated = bare.with_used(&Usage::new());
    assert_eq!(
        (&updated["apiVersion"], &updated["kind"]),
        (&json!("v1"), &json!("ResourceQuota"))
    );
}

/// Known scopes are read; an unknown one leaves the quota out, with a reason naming it.
#[test]
fn scoped_quotas_are_read_and_unknown_scopes_refused_with_a_reason() {
    let scoped = quota(json!({"metadata": {"name": "scoped"},
        "spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort"]}}));
    assert_ne!(scoped.scopes, Scopes::default());
    for spec in [
        json!({"hard": {"pods": "1"}, "scopes": ["VolumeAttributesClass"]}),
        json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "Unknown", "operator": "Exists"}]}}),
    ] {
        let read = Quota::read(json!({"metadata": {"name": "scoped"}, "spec": spec}));
        assert!(
            matches!(&read, Err(why) if why.contains("\"scoped\"") && why.contains("scope")),
            "{read:?}"
        );
    }
    assert!(
        Quota::read(json!({"metadata": {"name": "q"}, "spec": {"hard": {}, "scopes": []}})).is_ok()
    );
}

#[test]
fn give_back_never_goes_below_zero_and_skips_a_deleted_quota() {
    let q = quota(json!({"metadata": {"name": "q", "resourceVersion": "7"},
        "spec": {"hard": {"resourcequotas": "3", "pods": "2"}},
        "status": {"hard": {"resourcequotas": "3", "pods": "2"}, "used": {"resourcequotas": "1", "pods": "0"}}}));
    let mut released = Usage::new();
    released.insert("pods".into(), Quantity::from_units(1));
    let pod = Subject {
        kind: Kind {
            group: "",
            kind: "Pod",
            plural: "pods",
        },
        name: "p",
    };
    let give_back = |q: &[Quota], subject, released: &Usage| {
        let change = Change {
            object: &Value::Null,
            requested: &Usage::new(),
            released,
            created: false,
        };
        match settle(q, subject, change, &Fake::default()) {
            Outcome::Allowed(updates) => updates,
            Outcome::Denied(why) => panic!("{why}"),
        }
    };
    let updates = give_back(std::slice::from_ref(&q), pod, &released);
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0]["status"]["used"],
        json!({"pods": "0", "resourcequotas": "1"})
    );
    let mut released = Usage::new();
    released.insert("resourcequotas".into(), Quantity::from_units(1));
    let itself = Subject {
        kind: Kind {
            group: "",
            kind: "ResourceQuota",
            plural: "resourcequotas",
        },
        name: "q",
    };
    assert!(give_back(&[q], itself, &released).is_empty());
}
