//! What one object uses of a quota, by kind (Kubernetes' quota evaluators): its object
//! count (`count/<plural>[.<group>]`) always; pods' compute resources; services' load
//! balancers and node ports; claims' storage; the legacy counts (`pods`, `services`,
//! `configmaps`, ...). Also which cached kind a quota resource is measured on, so usage can
//! be recomputed from the admission cache.

use keel_sdk::json::At;
use keel_sdk::quantity::Quantity;
use serde_json::Value;

use crate::pod;
use crate::resources::Usage;

/// A kind of object, as the request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind<'a> {
    /// API group; empty for core.
    pub group: &'a str,
    /// `Pod`.
    pub kind: &'a str,
    /// `pods`.
    pub plural: &'a str,
}

impl Kind<'_> {
    /// The object count resource: `count/pods`, `count/deployments.apps`.
    pub fn count_name(&self) -> String {
        if self.group.is_empty() {
            format!("count/{}", self.plural)
        } else {
            format!("count/{}.{}", self.plural, self.group)
        }
    }
}

/// The core kinds the admission cache holds that quota counts, so their usage can be
/// recomputed by listing them.
pub const CACHED: [Kind<'static>; 7] = [
    Kind {
        group: "",
        kind: "Pod",
        plural: "pods",
    },
    Kind {
        group: "",
        kind: "Service",
        plural: "services",
    },
    Kind {
        group: "",
        kind: "ConfigMap",
        plural: "configmaps",
    },
    Kind {
        group: "",
        kind: "Secret",
        plural: "secrets",
    },
    Kind {
        group: "",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
    },
    Kind {
        group: "",
        kind: "ResourceQuota",
        plural: "resourcequotas",
    },
    Kind {
        group: "",
        kind: "LimitRange",
        plural: "limitranges",
    },
];

const STORAGE_CLASS: &str = ".storageclass.storage.k8s.io/";

/// Legacy object count names of core kinds (`pods` is a compute resource, see [`pod`]).
fn legacy_count(kind: &str) -> Option<&'static str> {
    match kind {
        "Service" => Some("services"),
        "ConfigMap" => Some("configmaps"),
        "Secret" => Some("secrets"),
        "PersistentVolumeClaim" => Some("persistentvolumeclaims"),
        "ResourceQuota" => Some("resourcequotas"),
        "ReplicationController" => Some("replicationcontrollers"),
        _ => None,
    }
}

fn one() -> Quantity {
    Quantity::from_units(1)
}

fn service(service: &Value, usage: &mut Usage) {
    let ports = service
        .at("/spec/ports")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ports = Quantity::from_units(i64::try_from(ports).unwrap_or(i64::MAX));
    match service.at("/spec/type").and_then(Value::as_str) {
        Some("NodePort") => {
            usage.insert("services.nodeports".into(), ports);
        }
        Some("LoadBalancer") => {
            usage.insert("services.nodeports".into(), ports);
            usage.insert("services.loadbalancers".into(), one());
        }
        _ => {}
    }
}

fn claim(claim: &Value, usage: &mut Usage) {
    let class = claim
        .at("/spec/storageClassName")
        .and_then(Value::as_str)
        .or_else(|| {
            claim
                .at("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
                .and_then(Value::as_str)
        })
        .filter(|c| !c.is_empty());
    if let Some(class) = class {
        usage.insert(
            format!("{class}{STORAGE_CLASS}persistentvolumeclaims"),
            one(),
        );
    }
    let requested = claim
        .at("/spec/resources/requests/storage")
        .and_then(Quantity::from_json);
    let allocated = claim
        .at("/status/allocatedResources/storage")
        .and_then(Quantity::from_json);
    let storage = match (requested, allocated) {
        (Some(r), Some(a)) => Some(r.max(a)),
        (r, a) => r.or(a),
    };
    if let Some(storage) = storage {
        usage.insert("requests.storage".into(), storage);
        if let Some(class) = class {
            usage.insert(format!("{class}{STORAGE_CLASS}requests.storage"), storage);
        }
    }
}

/// What `object`, of `kind`, uses. An object marked for deletion uses nothing (its usage
/// was released when it was deleted), and a finished pod only its `count/pods`.
pub fn usage(kind: &Kind<'_>, object: &Value) -> Usage {
    let mut usage = Usage::new();
    if object
        .at("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return usage;
    }
    usage.insert(kind.count_name(), one());
    if !kind.group.is_empty() {
        return usage;
    }
    if let Some(legacy) = legacy_count(kind.kind) {
        usage.insert(legacy.into(), one());
    }
    match kind.kind {
        "Pod" if !pod::is_terminal(object) => usage.extend(pod::usage(object)),
        "Service" => service(object, &mut usage),
        "PersistentVolumeClaim" => claim(object, &mut usage),
        _ => {}
    }
    usage
}

/// The cached kind whose objects make up quota resource `name`'s usage, or `None` when
/// the cache does not hold them (`count/deployments.apps`, `replicationcontrollers`).
pub fn source(name: &str) -> Option<&'static Kind<'static>> {
    let kind = |k: &str| CACHED.iter().find(|c| c.kind == k);
    if let Some(counted) = name.strip_prefix("count/") {
        return CACHED.iter().find(|c| c.plural == counted);
    }
    match name {
        "services" | "services.loadbalancers" | "services.nodeports" => kind("Service"),
        "configmaps" => kind("ConfigMap"),
        "secrets" => kind("Secret"),
        "resourcequotas" => kind("ResourceQuota"),
        "persistentvolumeclaims" | "requests.storage" => kind("PersistentVolumeClaim"),
        _ if name.contains(STORAGE_CLASS) => kind("PersistentVolumeClaim"),
        _ if pod::is_pod_resource(name) => kind("Pod"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names(usage: &Usage) -> Vec<(String, String)> {
        usage
            .iter()
            .map(|(k, q)| (k.clone(), q.to_string()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const POD: Kind<'static> = CACHED[0];

    #[test]
    fn count_names() {
        assert_eq!(POD.count_name(), "count/pods");
        let deployments = Kind {
            group: "apps",
            kind: "Deployment",
            plural: "deployments",
        };
        assert_eq!(deployments.count_name(), "count/deployments.apps");
        assert_eq!(
            names(&usage(&deployments, &json!({}))),
            pairs(&[("count/deployments.apps", "1")])
        );
    }

    /// "pods: the total number of Pods in a non-terminal state"; `count/pods` counts all.
    #[test]
    fn pods_use_their_compute_resources_until_they_finish() {
        let pod = json!({"spec": {"containers": [{"name": "web", "resources": {
            "requests": {"cpu": "500m", "memory": "128Mi"}}}]}});
        assert_eq!(
            names(&usage(&POD, &pod)),
            pairs(&[
                ("count/pods", "1"),
                ("cpu", "500m"),
                ("memory", "128Mi"),
                ("pods", "1"),
                ("requests.cpu", "500m"),
                ("requests.memory", "128Mi")
            ])
        );
        let mut done = pod.clone();
        done["status"] = json!({"phase": "Succeeded"});
        assert_eq!(names(&usage(&POD, &done)), pairs(&[("count/pods", "1")]));
        let mut deleting = pod;
        deleting["metadata"] = json!({"deletionTimestamp": "2024-01-01T00:00:00Z"});
        assert!(usage(&POD, &deleting).is_empty());
    }

    #[test]
    fn services_count_load_balancers_and_node_ports() {
        let kind = CACHED[1];
        let lb = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(
            names(&usage(&kind, &lb)),
            pairs(&[
                ("count/services", "1"),
                ("services", "1"),
                ("services.loadbalancers", "1"),
                ("services.nodeports", "2")
            ])
        );
        let plain = json!({"spec": {"ports": [{"port": 80}]}});
        assert_eq!(
            names(&usage(&kind, &plain)),
            pairs(&[("count/services", "1"), ("services", "1")])
        );
    }

    #[test]
    fn claims_use_storage_per_class() {
        let kind = CACHED[4];
        let claim = json!({"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "10Gi"}}},
                           "status": {"allocatedResources": {"storage": "12Gi"}}});
        assert_eq!(
            names(&usage(&kind, &claim)),
            pairs(&[
                ("count/persistentvolumeclaims", "1"),
                (
                    "gold.storageclass.storage.k8s.io/persistentvolumeclaims",
                    "1"
                ),
                ("gold.storageclass.storage.k8s.io/requests.storage", "12Gi"),
                ("persistentvolumeclaims", "1"),
                ("requests.storage", "12Gi")
            ])
        );
    }

    #[test]
    fn configmaps_and_secrets_are_counted_under_both_names() {
        assert_eq!(
            names(&usage(&CACHED[2], &json!({}))),
            pairs(&[("configmaps", "1"), ("count/configmaps", "1")])
        );
        assert_eq!(
            names(&usage(&CACHED[3], &json!({}))),
            pairs(&[("count/secrets", "1"), ("secrets", "1")])
        );
    }

    #[test]
    fn sources_of_quota_resources() {
        let kind_of = |name: &str| source(name).map(|k| k.kind);
        assert_eq!(kind_of("pods"), Some("Pod"));
        assert_eq!(kind_of("requests.cpu"), Some("Pod"));
        assert_eq!(kind_of("requests.nvidia.com/gpu"), Some("Pod"));
        assert_eq!(kind_of("count/pods"), Some("Pod"));
        assert_eq!(kind_of("requests.storage"), Some("PersistentVolumeClaim"));
        assert_eq!(
            kind_of("gold.storageclass.storage.k8s.io/requests.storage"),
            Some("PersistentVolumeClaim")
        );
        assert_eq!(kind_of("services.nodeports"), Some("Service"));
        assert_eq!(kind_of("configmaps"), Some("ConfigMap"));
        assert_eq!(kind_of("count/secrets"), Some("Secret"));
        assert_eq!(kind_of("count/limitranges"), Some("LimitRange"));
        assert_eq!(kind_of("count/deployments.apps"), None);
        assert_eq!(kind_of("replicationcontrollers"), None);
        assert_eq!(kind_of("unknown"), None);
    }
}
