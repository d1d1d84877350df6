//! What a pod uses, as Kubernetes' pod quota evaluator measures it: its totals
//! (`PodRequests`/`PodLimits`, from `keel_sdk::quantity::resources`) under quota's
//! resource names, and which containers fail to set a resource a quota constrains.

use std::collections::{BTreeMap, BTreeSet};

use keel_sdk::json::At;
use keel_sdk::quantity::Quantity;
use serde_json::Value;

use keel_sdk::quantity::resources::containers;

use crate::resources::Usage;

/// Resources a quota on cpu or memory makes every container set (Kubernetes'
/// `validationSet`).
pub const MUST_SPECIFY: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

pub use keel_sdk::quantity::resources::{pod_limits, pod_requests};

/// Whether a resource name is outside Kubernetes' own (`example.com/gpu`): it has a
/// domain that is not `kubernetes.io`'s.
fn is_extended(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with("requests.")
}

/// Kubernetes' `podComputeUsageHelper`: the quota resources `requests` and `limits` use.
pub fn compute_usage(requests: &Usage, limits: &Usage) -> Usage {
    let mut usage = Usage::new();
    usage.insert("pods".into(), Quantity::from_units(1));
    for name in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests.get(name) {
            usage.insert(name.into(), *q);
            usage.insert(format!("requests.{name}"), *q);
        }
        if let Some(q) = limits.get(name) {
            usage.insert(format!("limits.{name}"), *q);
        }
    }
    for (name, q) in requests {
        if name.starts_with("hugepages-") {
            usage.insert(name.clone(), *q);
            usage.insert(format!("requests.{name}"), *q);
        }
        if is_extended(name) {
            usage.insert(format!("requests.{name}"), *q);
        }
    }
    usage
}

/// Whether a pod has finished (phase `Succeeded` or `Failed`): its compute resources are
/// no longer charged.
pub fn is_terminal(pod: &Value) -> bool {
    matches!(
        pod.at("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// What a running pod uses: `pods` and its compute resources.
pub fn usage(pod: &Value) -> Usage {
    compute_usage(&pod_requests(pod), &pod_limits(pod))
}

/// Whether a quota resource is one a pod can use (Kubernetes' pod evaluator's
/// `MatchingResources`).
pub fn is_pod_resource(name: &str) -> bool {
    const NAMES: [&str; 11] = [
        "count/pods",
        "pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    ];
    NAMES.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
        || name
            .strip_prefix("requests.")
            .is_some_and(|rest| rest.contains('/') && !rest.contains("kubernetes.io/"))
}

/// For each of `required` (quota resources in [`MUST_SPECIFY`]) some container of the pod
/// does not set, the names of those containers (Kubernetes' pod `Constraints`).
pub fn missing(pod: &Value, required: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if required.is_empty() {
        return missing;
    }
    let all = containers(pod, "containers")
        .into_iter()
        .chain(containers(pod, "initContainers"));
    for c in all {
        let sets = compute_usage(&c.requests, &c.limits);
        for resource in required.iter().filter(|r| !sets.contains_key(*r)) {
            missing
                .entry(resource.clone())
                .or_default()
                .insert(c.name.clone());
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn milli(usage: &Usage, name: &str) -> Option<i128> {
        usage.get(name).map(|q| q.milli())
    }

    /// podComputeUsageHelper: cpu and memory counted under both names, limits under
    /// `limits.*`, extended resources under `requests.*`.
    #[test]
    fn compute_usage_names() {
        let pod = json!({"spec": {"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "500m", "nvidia.com/gpu": "1", "hugepages-2Mi": "4Mi"},
            "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}}}]}});
        let usage = usage(&pod);
        let names: Vec<&str> = usage.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "cpu",
                "hugepages-2Mi",
                "limits.cpu",
                "limits.memory",
                "memory",
                "pods",
                "requests.cpu",
                "requests.hugepages-2Mi",
                "requests.memory",
                "requests.nvidia.com/gpu"
            ]
        );
        assert_eq!(milli(&usage, "requests.cpu"), Some(500));
        assert_eq!(milli(&usage, "limits.cpu"), Some(1000));
        assert_eq!(milli(&usage, "pods"), Some(1000));
    }

    #[test]
    fn pod_resources_and_terminal_phases() {
        for name in [
            "pods",
            "count/pods",
            "requests.cpu",
            "limits.memory",
            "requests.nvidia.com/gpu",
            "hugepages-1Gi",
        ] {
            assert!(is_pod_resource(name), "{name}");
        }
        for name in [
            "requests.storage",
            "services",
            "count/secrets",
            "limits.nvidia.com/gpu",
            "requests.kubernetes.io/x",
        ] {
            assert!(!is_pod_resource(name), "{name}");
        }
        assert!(is_terminal(&json!({"status": {"phase": "Succeeded"}})));
        assert!(is_terminal(&json!({"status": {"phase": "Failed"}})));
        assert!(!is_terminal(&json!({"status": {"phase": "Running"}})));
        assert!(!is_terminal(&json!({})));
    }

    /// "must specify limits.cpu for: web; requests.cpu for: web" — per resource, the
    /// containers (and init containers) that do not set it; a limit alone sets the request.
    #[test]
    fn missing_lists_containers_per_resource() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "web", "resources": {}},
                {"name": "cache", "resources": {"limits": {"cpu": "1"}}}
            ],
            "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "1"}}}]
        }});
        let required: BTreeSet<String> = ["requests.cpu", "limits.cpu"].map(String::from).into();
        let missing = missing(&pod, &required);
        let flat: Vec<(&str, Vec<&str>)> = missing
            .iter()
            .map(|(r, cs)| (r.as_str(), cs.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            flat,
            [
                ("limits.cpu", vec!["init", "web"]),
                ("requests.cpu", vec!["web"])
            ]
        );
        assert!(super::missing(&pod, &BTreeSet::new()).is_empty());
    }
}
