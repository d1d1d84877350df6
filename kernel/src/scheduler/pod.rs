//! What the scheduler reads from a Pod: its identity, queue order, what it requests, and
//! the contract's `pod` record the plugins get.
//!
//! Requests are Kubernetes' `PodRequests` (`keel_quantity::resources`, the same count the
//! resource-quota plugin uses): containers and sidecars summed, raised to what each init
//! container needs, plus `spec.overhead`. A quantity that does not parse counts as zero
//! (admission's schema plugin refuses such pods).

use keel_quantity::Quantity;
use keel_quantity::resources::{ResourceList, pod_requests};
use serde_json::Value;

use crate::plugin::calls::{Pod, Resources, TaintEffect, Toleration, TolerationOperator};

/// A pod's name in the store: namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodKey {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What the scheduler knows of one pod.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// Where it is stored.
    pub key: PodKey,
    /// Its uid: a pod deleted and created again under the same name is another pod.
    pub uid: String,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// `metadata.creationTimestamp`, as stored (RFC 3339 sorts as text).
    pub created: String,
    /// `spec.schedulerName` (empty when unset).
    pub scheduler_name: String,
    /// `spec.nodeName` (empty when unset).
    pub node_name: String,
    /// Whether it has finished (`Succeeded` or `Failed`) or is being deleted: it no longer
    /// needs a node, nor holds one.
    pub done: bool,
    /// The record the plugins get.
    pub record: Pod,
}

impl PodInfo {
    /// Reads a stored pod; `None` when it has no name.
    pub fn from_object(pod: &Value) -> Option<PodInfo> {
        let meta = pod.get("metadata")?;
        let spec = pod.get("spec").unwrap_or(&Value::Null);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        let key = PodKey {
            namespace: text(meta.get("namespace")),
            name: meta.get("name").and_then(Value::as_str)?.to_string(),
        };
        let phase = pod.pointer("/status/phase").and_then(Value::as_str);
        let done = matches!(phase, Some("Succeeded" | "Failed"))
            || meta.get("deletionTimestamp").is_some_and(|t| !t.is_null());
        let node_name = text(spec.get("nodeName"));
        let record = Pod {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            labels: string_pairs(meta.get("labels")),
            node_name: (!node_name.is_empty()).then(|| node_name.clone()),
            node_selector: string_pairs(spec.get("nodeSelector")),
            tolerations: tolerations(spec.get("tolerations")),
            requests: requests(pod),
            affinity_json: present(spec.get("affinity")).map(Value::to_string),
            topology_spread_json: present(spec.get("topologySpreadConstraints"))
                .map(Value::to_string),
        };
        Some(PodInfo {
            key,
            uid: text(meta.get("uid")),
            priority: spec
                .get("priority")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(0),
            created: text(meta.get("creationTimestamp")),
            scheduler_name: text(spec.get("schedulerName")),
            node_name,
            done,
            record,
        })
    }
}

/// `value` unless it is absent, null or empty.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    })
}

/// A string map (labels, nodeSelector) as pairs, sorted by key.
pub(crate) fn string_pairs(map: Option<&Value>) -> Vec<(String, String)> {
    map.and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A taint or toleration effect.
pub(crate) fn effect(text: &str) -> Option<TaintEffect> {
    match text {
        "NoSchedule" => Some(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
        "NoExecute" => Some(TaintEffect::NoExecute),
        _ => None,
    }
}

fn tolerations(list: Option<&Value>) -> Vec<Toleration> {
    let Some(list) = list.and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|t| {
            let text = |field: &str| t.get(field).and_then(Value::as_str).unwrap_or_default();
            Toleration {
                key: text("key").to_string(),
                operator: match text("operator") {
                    "Exists" => TolerationOperator::Exists,
                    _ => TolerationOperator::Equal,
                },
                value: text("value").to_string(),
                effect: effect(text("effect")),
            }
        })
        .collect()
}

/// A resource list in the contract's units: cpu in millicores, everything else in whole
/// units rounded up (as Kubernetes' `Value()`), extended resources (see [`is_extended`])
/// by name; `pods` is left to the caller.
pub(crate) fn resources(list: &ResourceList) -> Resources {
    let amount = |name: &str, q: &Quantity| {
        let milli = q.milli();
        let amount = if name == "cpu" {
            milli
        } else {
            milli.div_euclid(1000) + i128::from(milli.rem_euclid(1000) > 0)
        };
        u64::try_from(amount.max(0)).unwrap_or(u64::MAX)
    };
    let get = |name: &str| list.get(name).map_or(0, |q| amount(name, q));
    Resources {
        milli_cpu: get("cpu"),
        memory: get("memory"),
        pods: 0,
        extended: list
            .iter()
            .filter(|(name, _)| is_extended(name))
            .map(|(name, q)| (name.clone(), amount(name, q)))
            .filter(|(_, amount)| *amount > 0)
            .collect(),
    }
}

/// The pod's effective requests (Kubernetes' `PodRequests`), counting one pod.
pub(crate) fn requests(pod: &Value) -> Resources {
    Resources {
        pods: 1,
        ..resources(&pod_requests(pod))
    }
}

/// A resource the node-resources plugin counts beyond cpu, memory and pods: a name with a
/// domain (`example.com/gpu`), or `hugepages-*`; not `ephemeral-storage`.
pub(crate) fn is_extended(name: &str) -> bool {
    name.contains('/') || name.starts_with("hugepages-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_the_larger_of_containers_and_init_containers() {
        // kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"resources": {"requests": {"cpu": "250m", "example.com/gpu": 1}}},
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "32Mi"}}}],
            "overhead": {"cpu": "10m"},
        }});
        let r = requests(&pod);
        assert_eq!(r.milli_cpu, 1010);
        assert_eq!(r.memory, 64 << 20);
        assert_eq!(r.extended, vec![("example.com/gpu".to_string(), 1)]);
        assert_eq!(r.pods, 1);
    }

    #[test]
    fn a_pod_reads_its_queue_order_and_record() {
        let pod = json!({
            "metadata": {"namespace": "a", "name": "p", "uid": "u", "labels": {"app": "x"},
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"priority": 7, "nodeSelector": {"disk": "ssd"},
                     "tolerations": [{"operator": "Exists"}], "affinity": {},
                     "containers": [{"name": "c", "image": "i"}]},
        });
        let info = PodInfo::from_object(&pod).expect("named");
        assert_eq!(info.priority, 7);
        assert_eq!(info.key.to_string(), "a/p");
        assert_eq!(info.record.labels, vec![("app".into(), "x".into())]);
        assert_eq!(info.record.tolerations.len(), 1);
        assert!(
            info.record.affinity_json.is_none(),
            "an empty affinity is none"
        );
        assert!(!info.done);
    }
}
