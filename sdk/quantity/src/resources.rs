//! Resource lists (`{"cpu": "500m", "memory": "1Gi"}`) as exact quantities, and a pod's
//! totals as Kubernetes' `resourcehelper.PodRequests` / `PodLimits` compute them: regular
//! containers and sidecars (init containers with `restartPolicy: Always`) summed, raised to
//! what each init container needs beside the sidecars started before it, plus
//! `spec.overhead`. A container's limit stands for its request when it sets no request, as
//! the API server's defaulting does before anything reads the pod.
//!
//! Shared by the kernel's scheduler and the admission plugins (resource quota), so the
//! two count a pod the same way.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Quantity;

/// Resource name to quantity, in name order.
pub type ResourceList = BTreeMap<String, Quantity>;

/// Reads a resource map; entries that are not quantities are left out, a missing or
/// non-object value is empty.
pub fn read(value: Option<&Value>) -> ResourceList {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(name, v)| Some((name.clone(), Quantity::from_json(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Adds `other` into `into`, key by key.
pub fn add_into(into: &mut ResourceList, other: &ResourceList) {
    for (name, q) in other {
        let sum = into.entry(name.clone()).or_default();
        *sum = sum.plus(*q);
    }
}

/// Raises each of `into`'s entries to `other`'s where that is more.
pub fn max_into(into: &mut ResourceList, other: &ResourceList) {
    for (name, q) in other {
        let current = into.entry(name.clone()).or_default();
        if *q > *current {
            *current = *q;
        }
    }
}

/// One container's requests and limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Container {
    /// Its name.
    pub name: String,
    /// `resources.requests`, with each limit standing for an unset request.
    pub requests: ResourceList,
    /// `resources.limits`.
    pub limits: ResourceList,
    /// An init container that keeps running (`restartPolicy: Always`).
    pub sidecar: bool,
}

/// The containers of `pod` under `spec.<field>` (`containers`, `initContainers`).
pub fn containers(pod: &Value, field: &str) -> Vec<Container> {
    pod.get("spec")
        .and_then(|spec| spec.get(field))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            // Plain lookups: `Value::pointer` allocates per token, on every pod a plugin reads.
            let resources = c.get("resources");
            let limits = read(resources.and_then(|r| r.get("limits")));
            let mut requests = read(resources.and_then(|r| r.get("requests")));
            for (name, q) in &limits {
                requests.entry(name.clone()).or_insert(*q);
            }
            Container {
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                requests,
                limits,
                sidecar: c.get("restartPolicy").and_then(Value::as_str) == Some("Always"),
            }
        })
        .collect()
}

/// The pod total of `of` (a container's requests or limits), before overhead: what
/// LimitRanger's `Pod` items bound.
pub fn pod_total(pod: &Value, of: impl Fn(&Container) -> &ResourceList) -> ResourceList {
    let mut sum = ResourceList::new();
    for c in containers(pod, "containers") {
        add_into(&mut sum, of(&c));
    }
    let mut sidecars = ResourceList::new();
    let mut init = ResourceList::new();
    for c in containers(pod, "initContainers") {
        let running = if c.sidecar {
            add_into(&mut sum, of(&c));
            add_into(&mut sidecars, of(&c));
            sidecars.clone()
        } else {
            let mut with = of(&c).clone();
            add_into(&mut with, &sidecars);
            with
        };
        max_into(&mut init, &running);
    }
    max_into(&mut sum, &init);
    sum
}

/// The pod's requests, with its overhead.
pub fn pod_requests(pod: &Value) -> ResourceList {
    let mut requests = pod_total(pod, |c| &c.requests);
    add_into(&mut requests, &read(overhead(pod)));
    requests
}

/// The pod's `spec.overhead`.
fn overhead(pod: &Value) -> Option<&Value> {
    pod.get("spec")?.get("overhead")
}

/// The pod's limits, with its overhead on the resources it limits.
pub fn pod_limits(pod: &Value) -> ResourceList {
    let mut limits = pod_total(pod, |c| &c.limits);
    for (name, q) in read(overhead(pod)) {
        if let Some(limit) = limits.get_mut(&name) {
            *limit = limit.plus(q);
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn milli(list: &ResourceList, name: &str) -> Option<i128> {
        list.get(name).map(|q| q.milli())
    }

    /// kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/#resource-sharing-within-containers
    #[test]
    fn pod_totals_follow_kubernetes() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "300m"}}}
            ],
            "initContainers": [
                {"name": "migrate", "resources": {"requests": {"cpu": "2", "memory": "32Mi"}}},
                {"name": "mesh", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}
            ],
            "overhead": {"cpu": "10m", "memory": "1Mi"}
        }});
        let requests = pod_requests(&pod);
        // max(200m + 300m + 100m, 2) + 10m; b's limit stands for its request.
        assert_eq!(milli(&requests, "cpu"), Some(2010));
        assert_eq!(
            requests.get("memory"),
            Quantity::parse("65Mi").ok().as_ref()
        );
        let limits = pod_limits(&pod);
        // Only b limits cpu; overhead is added to what is limited only.
        assert_eq!(milli(&limits, "cpu"), Some(310));
        assert_eq!(limits.get("memory"), None);
    }

    #[test]
    fn lists_read_quantities_and_skip_the_rest() {
        let list = read(Some(
            &json!({"cpu": "1", "pods": 3, "bad": "x", "none": null}),
        ));
        assert_eq!(list.len(), 2);
        assert_eq!(milli(&list, "pods"), Some(3000));
        assert!(read(None).is_empty());
        let mut sum = list.clone();
        add_into(&mut sum, &list);
        assert_eq!(milli(&sum, "cpu"), Some(2000));
        max_into(&mut sum, &read(Some(&json!({"cpu": "5"}))));
        assert_eq!(milli(&sum, "cpu"), Some(5000));
    }
}
