//! A pod's containers as LimitRanger reads them (requests, limits, where each sits in the
//! object), and the pod-wide requests and limits a `type: Pod` item bounds
//! (`keel_sdk::quantity::resources::pod_total`, the count the scheduler and the quota use).

use keel_sdk::quantity::resources;
use serde_json::Value;

use crate::amount::{Amount, ResourceList, resource_list};

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `spec.containers`.
    Containers,
    /// `spec.initContainers`.
    InitContainers,
}

impl Section {
    /// The pod spec field.
    pub fn field(self) -> &'static str {
        match self {
            Section::Containers => "containers",
            Section::InitContainers => "initContainers",
        }
    }

    /// How Kubernetes' annotation names a container of this section.
    pub fn label(self) -> &'static str {
        match self {
            Section::Containers => "container",
            Section::InitContainers => "init container",
        }
    }
}

/// One container of a pod.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    /// The list it is in.
    pub section: Section,
    /// Its index in that list.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Its `resources` object as written (None when absent).
    pub resources: Option<&'a Value>,
    /// An init container with `restartPolicy: Always` (a sidecar), which runs alongside
    /// the regular containers.
    pub sidecar: bool,
}

impl<'a> Container<'a> {
    /// The JSON Pointer of the container in the pod.
    pub fn pointer(&self) -> String {
        format!("/spec/{}/{}", self.section.field(), self.index)
    }

    /// Its `resources.limits` or `resources.requests` map as written.
    pub fn raw(&self, field: &str) -> Option<&'a serde_json::Map<String, Value>> {
        self.resources?.get(field)?.as_object()
    }

    /// Its limits.
    pub fn limits(&self) -> ResourceList {
        resource_list(self.resources.and_then(|r| r.get("limits")))
    }

    /// Its requests as Kubernetes sees them after defaulting the pod: a resource with a
    /// limit and no request requests its limit.
    pub fn requests(&self) -> ResourceList {
        let mut requests = resource_list(self.resources.and_then(|r| r.get("requests")));
        for (name, limit) in self.limits() {
            requests.entry(name).or_insert(limit);
        }
        requests
    }
}

/// The pod's containers, then its init containers, each in order.
pub fn containers(pod: &Value) -> Vec<Container<'_>> {
    [Section::Containers, Section::InitContainers]
        .into_iter()
        .flat_map(|section| {
            pod.get("spec")
                .and_then(|spec| spec.get(section.field()))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .map(move |(index, c)| Container {
                    section,
                    index,
                    name: c
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    resources: c.get("resources").filter(|r| r.is_object()),
                    sidecar: section == Section::InitContainers
                        && c.get("restartPolicy").and_then(Value::as_str) == Some("Always"),
                })
        })
        .collect()
}

/// A pod total as amounts, printed canonically.
fn computed(total: resources::ResourceList) -> ResourceList {
    total
        .into_iter()
        .map(|(name, q)| (name, Amount::computed(q)))
        .collect()
}

/// The pod's requests (Kubernetes' LimitRanger `podRequests`: no overhead).
pub fn pod_requests(pod: &Value) -> ResourceList {
    computed(resources::pod_total(pod, |c| &c.requests))
}

/// The pod's limits (Kubernetes' LimitRanger `podLimits`).
pub fn pod_limits(pod: &Value) -> ResourceList {
    computed(resources::pod_total(pod, |c| &c.limits))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn milli(list: &ResourceList, name: &str) -> Option<i128> {
        list.get(name).map(|a| a.quantity.milli())
    }

    #[test]
    fn lists_containers_then_init_containers_with_pointers() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "web", "resources": {"limits": {"cpu": "1"}}}]
        }});
        let list = containers(&pod);
        let names: Vec<(&str, String, bool)> = list
            .iter()
            .map(|c| (c.name.as_str(), c.pointer(), c.sidecar))
            .collect();
        assert_eq!(
            names,
            [
                ("web", "/spec/containers/0".to_string(), false),
                ("setup", "/spec/initContainers/0".to_string(), false),
                ("proxy", "/spec/initContainers/1".to_string(), true),
            ]
        );
        assert!(list.iter().skip(1).all(|c| c.resources.is_none()));
    }

    /// Pod defaulting: a limit without a request makes the request equal to the limit.
    #[test]
    fn a_limit_without_a_request_requests_the_limit() {
        let pod = json!({"spec": {"containers": [{"name": "c", "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "500m"}}}]}});
        let list = containers(&pod);
        let Some(c) = list.first() else {
            panic!("one container")
        };
        let requests = c.requests();
        assert_eq!(milli(&requests, "cpu"), Some(500));
        assert_eq!(requests.get("memory").map(|a| a.text.as_str()), Some("1Gi"));
    }

    /// podRequests: containers summed, init containers max'ed, sidecars added.
    #[test]
    fn pod_totals_follow_kubernetes_pod_requests() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}}},
                {"name": "b", "resources": {"requests": {"cpu": "300m", "memory": "64Mi"}}}
            ],
            "initContainers": [
                {"name": "big-init", "resources": {"requests": {"cpu": "1"}}},
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
                {"name": "after", "resources": {"requests": {"cpu": "980m"}}}
            ]
        }});
        let requests = pod_requests(&pod);
        // Regular 400m + sidecar 50m = 450m, but "after" needs 980m + 50m = 1030m.
        assert_eq!(milli(&requests, "cpu"), Some(1030));
        assert_eq!(
            requests.get("memory").map(|a| a.text.as_str()),
            Some("64Mi")
        );
        let limits = pod_limits(&pod);
        assert_eq!(milli(&limits, "cpu"), Some(200));
        assert_eq!(limits.get("memory"), None);
    }
}
