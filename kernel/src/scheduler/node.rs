//! What the scheduler reads from a Node: the contract's `node` record (labels, taints,
//! whether it takes new pods, what it can allocate).

use serde_json::Value;

use keel_quantity::resources::read;

use super::pod::{effect, resources, string_pairs};
use crate::plugin::calls::{Node, Resources, Taint};

/// Reads a stored node as the contract's record, at table index `index`; `None` when it has
/// no name. Allocatable is `status.allocatable`, or `status.capacity` when that is unset.
pub fn node_record(index: u32, node: &Value) -> Option<Node> {
    let name = node.pointer("/metadata/name").and_then(Value::as_str)?;
    let status = node.get("status").unwrap_or(&Value::Null);
    let allocatable = status
        .get("allocatable")
        .filter(|a| a.as_object().is_some_and(|a| !a.is_empty()))
        .or_else(|| status.get("capacity"));
    Some(Node {
        index,
        name: name.to_string(),
        labels: string_pairs(node.pointer("/metadata/labels")),
        taints: taints(node.pointer("/spec/taints")),
        unschedulable: node
            .pointer("/spec/unschedulable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        allocatable: allocatable_of(allocatable),
    })
}

fn taints(list: Option<&Value>) -> Vec<Taint> {
    let Some(list) = list.and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|t| {
            let text = |field: &str| t.get(field).and_then(Value::as_str).unwrap_or_default();
            Some(Taint {
                key: text("key").to_string(),
                value: text("value").to_string(),
                effect: effect(text("effect"))?,
            })
        })
        .collect()
}

fn allocatable_of(map: Option<&Value>) -> Resources {
    let list = read(map);
    let pods = list
        .get("pods")
        .map_or(0, |q| u64::try_from(q.units().max(0)).unwrap_or(u64::MAX));
    Resources {
        pods,
        ..resources(&list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::calls::TaintEffect;
    use serde_json::json;

    #[test]
    fn a_node_reads_allocatable_taints_and_labels() {
        let node = json!({
            "metadata": {"name": "n1", "labels": {"zone": "a"}},
            "spec": {"unschedulable": true,
                     "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                       "allocatable": {"cpu": "7500m", "memory": "15Gi", "pods": "100",
                                       "example.com/gpu": "2", "ephemeral-storage": "10Gi"}},
        });
        let n = node_record(3, &node).expect("named");
        assert_eq!(n.index, 3);
        assert_eq!(n.allocatable.milli_cpu, 7500);
        assert_eq!(n.allocatable.memory, 15 << 30);
        assert_eq!(n.allocatable.pods, 100);
        assert_eq!(n.allocatable.extended, vec![("example.com/gpu".into(), 2)]);
        assert!(n.unschedulable);
        assert_eq!(n.taints[0].effect, TaintEffect::NoSchedule);
        assert_eq!(n.labels, vec![("zone".into(), "a".into())]);
    }
}
