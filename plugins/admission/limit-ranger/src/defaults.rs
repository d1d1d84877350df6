//! LimitRanger's mutating half: a pod's containers get the default limits and requests of
//! the namespace's LimitRanges, as a JSON Patch, with the `kubernetes.io/limit-ranger`
//! annotation saying what was set.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::patch::{add, add_entries, escape};
use crate::pod::{Container, containers};
use crate::range::ContainerDefaults;

/// The annotation Kubernetes' LimitRanger records what it set in.
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// What defaulting sets on one container.
struct Set {
    limits: Map<String, Value>,
    requests: Map<String, Value>,
}

/// The defaults for one container from each LimitRange in turn (an earlier LimitRange's
/// value stays): a missing limit is the default limit; a missing request is the container's
/// own limit when it set one (as Kubernetes' pod defaulting does before admission), else
/// the default request (which, for a `Container` item, is its default limit unless set).
fn defaults_for(container: &Container<'_>, ranges: &[ContainerDefaults]) -> Set {
    let limits_written = container.raw("limits");
    let requests_written = container.raw("requests");
    let has = |map: Option<&Map<String, Value>>, name: &str| {
        map.and_then(|m| m.get(name)).is_some_and(|v| !v.is_null())
    };
    let mut set = Set {
        limits: Map::new(),
        requests: Map::new(),
    };
    for range in ranges {
        for (name, amount) in &range.limits {
            if !has(limits_written, name) && !set.limits.contains_key(name) {
                set.limits.insert(name.clone(), amount.to_json());
            }
        }
        for (name, amount) in &range.requests {
            if has(requests_written, name) || set.requests.contains_key(name) {
                continue;
            }
            let own_limit = limits_written
                .and_then(|m| m.get(name))
                .filter(|v| !v.is_null());
            let value = own_limit.cloned().unwrap_or_else(|| amount.to_json());
            set.requests.insert(name.clone(), value);
        }
    }
    set
}

/// `"cpu, memory request for container web"` for a non-empty list of names.
fn describe(names: &Map<String, Value>, what: &str, container: &Container<'_>) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let names: BTreeSet<&str> = names.keys().map(String::as_str).collect();
    let names: Vec<&str> = names.into_iter().collect();
    Some(format!(
        "{} {what} for {} {}",
        names.join(", "),
        container.section.label(),
        container.name
    ))
}

/// The JSON Patch operations defaulting `pod`'s containers from `ranges` (one entry per
/// LimitRange, in list order), or `None` when nothing is missing.
pub fn default_pod(pod: &Value, ranges: &[ContainerDefaults]) -> Option<Vec<Value>> {
    if ranges.iter().all(ContainerDefaults::is_empty) {
        return None;
    }
    let mut ops = Vec::new();
    let mut said = Vec::new();
    for container in containers(pod) {
        let set = defaults_for(&container, ranges);
        said.extend(describe(&set.requests, "request", &container));
        said.extend(describe(&set.limits, "limit", &container));
        let pointer = container.pointer();
        match container.resources {
            Some(resources) => {
                let at = format!("{pointer}/resources");
                add_entries(&mut ops, &at, Some(resources), "limits", set.limits);
                add_entries(&mut ops, &at, Some(resources), "requests", set.requests);
            }
            None => {
                let mut resources = Map::new();
                if !set.limits.is_empty() {
                    resources.insert("limits".into(), Value::Object(set.limits));
                }
                if !set.requests.is_empty() {
                    resources.insert("requests".into(), Value::Object(set.requests));
                }
                if !resources.is_empty() {
                    ops.push(add(
                        &format!("{pointer}/resources"),
                        Value::Object(resources),
                    ));
                }
            }
        }
    }
    if ops.is_empty() {
        return None;
    }
    let note = Value::String(format!("LimitRanger plugin set: {}", said.join("; ")));
    ops.push(annotate(pod, note));
    Some(ops)
}

/// The operation setting the annotation, creating `metadata.annotations` when absent.
fn annotate(pod: &Value, note: Value) -> Value {
    let metadata = pod.get("metadata").filter(|m| m.is_object());
    let annotations = metadata
        .and_then(|m| m.get("annotations"))
        .filter(|a| a.is_object());
    match (metadata, annotations) {
        (_, Some(_)) => add(
            &format!("/metadata/annotations/{}", escape(ANNOTATION)),
            note,
        ),
        (Some(_), None) => add("/metadata/annotations", json!({ ANNOTATION: note })),
        (None, _) => add("/metadata", json!({"annotations": { ANNOTATION: note }})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::items;

    fn ranges(range: Value) -> Vec<ContainerDefaults> {
        vec![ContainerDefaults::of(&items(&range))]
    }

    /// The LimitRange of the docs' "Configure Default CPU Requests and Limits" with
    /// memory: default limits and requests.
    fn cpu_memory() -> Vec<ContainerDefaults> {
        ranges(json!({"spec": {"limits": [{"type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}}))
    }

    /// Applies `ops` in the simplest way this test needs: every op is an `add`.
    fn apply(mut doc: Value, ops: &[Value]) -> Value {
        for op in ops {
            assert_eq!(op["op"], "add", "{op}");
            let Some(path) = op["path"].as_str() else {
                panic!("path")
            };
            let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
            let key = last.replace("~1", "/").replace("~0", "~");
            let Some(Value::Object(map)) = doc.pointer_mut(parent) else {
                panic!("no parent object for {path} in {doc}")
            };
            map.insert(key, op["value"].clone());
        }
        doc
    }

    /// "If a container does not specify its own memory request and limit, it is given the
    /// default memory request and limit from the LimitRange", with the annotation.
    #[test]
    fn a_container_without_resources_gets_both_defaults() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        let Some(ops) = default_pod(&pod, &cpu_memory()) else {
            panic!("defaults applied")
        };
        assert_eq!(
            Value::Array(ops.clone()),
            json!([
                {"op": "add", "path": "/spec/containers/0/resources", "value": {
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                    "requests": {"cpu": "100m", "memory": "128Mi"}}},
                {"op": "add", "path": "/metadata/annotations", "value": {
                    "kubernetes.io/limit-ranger":
                        "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web"}}
            ])
        );
        let patched = apply(pod, &ops);
        assert_eq!(
            patched["spec"]["containers"][0]["resources"]["limits"]["cpu"],
            "500m"
        );
    }

    /// "What if you specify a container's limit, but not its request?": the request is the
    /// limit; only what is missing is set, key by key in existing objects.
    #[test]
    fn only_missing_entries_are_added_and_a_set_limit_becomes_the_request() {
        let pod = json!({"metadata": {"name": "p", "annotations": {"a": "b"}}, "spec": {"containers": [
            {"name": "web", "resources": {"limits": {"cpu": "1"}}}
        ]}});
        let Some(ops) = default_pod(&pod, &cpu_memory()) else {
            panic!("defaults applied")
        };
        let patched = apply(pod, &ops);
        assert_eq!(
            patched["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "1", "memory": "256Mi"},
                   "requests": {"cpu": "1", "memory": "128Mi"}})
        );
        assert_eq!(
            patched["metadata"]["annotations"],
            json!({"a": "b", "kubernetes.io/limit-ranger":
                "LimitRanger plugin set: cpu, memory request for container web; memory limit for container web"})
        );
        assert!(
            ops.iter()
                .any(|op| op["path"] == "/spec/containers/0/resources/limits/memory"),
            "{ops:?}"
        );
    }

    #[test]
    fn a_fully_specified_pod_is_left_alone() {
        let pod = json!({"spec": {"containers": [{"name": "web", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(default_pod(&pod, &cpu_memory()), None);
        assert_eq!(default_pod(&pod, &[]), None);
    }

    /// "If a default request is not specified but the default limit is, the request
    /// defaults to the limit"; extended resource names are pointer-escaped; init
    /// containers are named as such.
    #[test]
    fn extended_resources_and_init_containers() {
        let defaults = ranges(json!({"spec": {"limits": [{"type": "Container",
            "default": {"example.com/gpu": "1"}}]}}));
        let pod = json!({"metadata": {}, "spec": {
            "containers": [{"name": "web", "resources": {"requests": {"cpu": "1"}}}],
            "initContainers": [{"name": "setup", "resources": {}}]}});
        let Some(ops) = default_pod(&pod, &defaults) else {
            panic!("defaults applied")
        };
        assert_eq!(
            Value::Array(ops.clone()),
            json!([
                {"op": "add", "path": "/spec/containers/0/resources/limits", "value": {"example.com/gpu": "1"}},
                {"op": "add", "path": "/spec/containers/0/resources/requests/example.com~1gpu", "value": "1"},
                {"op": "add", "path": "/spec/initContainers/0/resources/limits", "value": {"example.com/gpu": "1"}},
                {"op": "add", "path": "/spec/initContainers/0/resources/requests", "value": {"example.com/gpu": "1"}},
                {"op": "add", "path": "/metadata/annotations", "value": {"kubernetes.io/limit-ranger":
                    "LimitRanger plugin set: example.com/gpu request for container web; example.com/gpu limit for container web; example.com/gpu request for init container setup; example.com/gpu limit for init container setup"}}
            ])
        );
        let patched = apply(pod, &ops);
        assert_eq!(
            patched["spec"]["containers"][0]["resources"]["requests"],
            json!({"cpu": "1", "example.com/gpu": "1"})
        );
    }

    /// Several LimitRanges: the first one's default for a resource wins.
    #[test]
    fn the_first_limit_range_wins() {
        let mut defaults = ranges(json!({"spec": {"limits": [{"type": "Container",
            "default": {"cpu": "1"}, "defaultRequest": {"cpu": "100m"}}]}}));
        defaults.extend(ranges(json!({"spec": {"limits": [{"type": "Container",
            "default": {"cpu": "2", "memory": "1Gi"}}]}})));
        let pod = json!({"spec": {"containers": [{"name": "c"}]}});
        let Some(ops) = default_pod(&pod, &defaults) else {
            panic!("defaults applied")
        };
        let patched = apply(pod, &ops);
        assert_eq!(
            patched["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "1Gi"}})
        );
        // No metadata at all: it is created.
        assert!(patched["metadata"]["annotations"][ANNOTATION].is_string());
    }

    /// A LimitRange with only `max` defaults the limit (and so the request) to the max.
    #[test]
    fn a_max_only_range_defaults_to_the_max() {
        let defaults =
            ranges(json!({"spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]}}));
        let pod = json!({"metadata": {}, "spec": {"containers": [{"name": "c"}]}});
        let Some(ops) = default_pod(&pod, &defaults) else {
            panic!("defaults applied")
        };
        let patched = apply(pod, &ops);
        assert_eq!(
            patched["spec"]["containers"][0]["resources"],
            json!({"limits": {"memory": "1Gi"}, "requests": {"memory": "1Gi"}})
        );
    }
}
