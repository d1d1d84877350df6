//! The scheduler's view of the cluster: every node (the resident node table plugins get),
//! what each node has allocated (requests of the pods bound or assumed there: the usage
//! table, by node index, for plugins that read usage), and the placed pods (the resident
//! pod table for plugins that read pods).
//!
//! A pod bound to a node the snapshot does not know yet waits, by node name, and counts
//! once the node appears.

use std::collections::HashMap;

use super::pod::{PodInfo, PodKey};
use super::table::Table;
use crate::plugin::calls::{Node, NodeUsage, PlacedPod, Resources};

/// Adds `r` to (or takes it from) `used`, resource by resource.
fn charge(used: &mut Resources, r: &Resources, add: bool) {
    let step = |total: &mut u64, amount: u64| {
        *total = if add {
            total.saturating_add(amount)
        } else {
            total.saturating_sub(amount)
        };
    };
    step(&mut used.milli_cpu, r.milli_cpu);
    step(&mut used.memory, r.memory);
    step(&mut used.pods, r.pods);
    for (name, amount) in &r.extended {
        match used.extended.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => step(total, *amount),
            None if add => used.extended.push((name.clone(), *amount)),
            None => {}
        }
    }
}

/// A pod that holds a node.
#[derive(Debug, Clone)]
struct Placed {
    uid: String,
    node_name: String,
    /// Its row in the pod table, while its node is known.
    row: Option<u32>,
    requests: Resources,
    record: PlacedPod,
}

/// Nodes, their usage, and the pods placed on them.
#[derive(Default)]
pub struct Snapshot {
    nodes: Table<Node>,
    by_name: HashMap<String, u32>,
    /// Live node indexes in the order nodes appeared: where a cycle starts and stops.
    order: Vec<u32>,
    usage: Table<NodeUsage>,
    pods: Table<PlacedPod>,
    placed: HashMap<PodKey, Placed>,
    /// Pods placed on nodes not (yet) known, by node name.
    waiting: HashMap<String, Vec<PodKey>>,
    /// Rows of the pod table whose pod has an affinity.
    with_affinity: usize,
}

impl Snapshot {
    /// The resident node table.
    pub fn nodes(&self) -> &Table<Node> {
        &self.nodes
    }

    /// What each node has allocated, by node index.
    pub fn usage(&self) -> &Table<NodeUsage> {
        &self.usage
    }

    /// The resident pod table.
    pub fn pods(&self) -> &Table<PlacedPod> {
        &self.pods
    }

    /// Whether some placed pod has an affinity (whose rules may reach other pods).
    pub fn any_placed_affinity(&self) -> bool {
        self.with_affinity > 0
    }

    /// Live node indexes, in a stable order.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// The name of node `index`.
    pub fn node_name(&self, index: u32) -> Option<&str> {
        self.nodes.get(index).map(|n| n.name.as_str())
    }

    /// The index of node `name`.
    pub fn node_index(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// Adds or replaces a node; answers whether anything the scheduler reads of it changed
    /// (a new node, or new labels, taints, allocatable, cordon). A write that changes none
    /// of those (a status heartbeat) leaves the node table, and so every plugin's resident
    /// copy, as it is.
    pub fn upsert_node(&mut self, object: &serde_json::Value) -> bool {
        let Some(name) = object.pointer("/metadata/name").and_then(|n| n.as_str()) else {
            return false;
        };
        let (index, new) = match self.by_name.get(name) {
            Some(&index) => (index, false),
            None => (self.nodes.allocate(), true),
        };
        let Some(node) = super::node::node_record(index, object) else {
            return false;
        };
        if !new && self.nodes.get(index) == Some(&node) {
            return false;
        }
        if new {
            self.by_name.insert(node.name.clone(), index);
            self.order.push(index);
            let used = Resources {
                milli_cpu: 0,
                memory: 0,
                pods: 0,
                extended: Vec::new(),
            };
            self.usage.put(index, NodeUsage { node: index, used });
        }
        let name = node.name.clone();
        self.nodes.set(index, node);
        if new {
            for key in self.waiting.remove(&name).unwrap_or_default() {
                self.attach(&key, index);
            }
        }
        true
    }

    /// Removes a node; the pods placed there wait for a node of that name again.
    pub fn remove_node(&mut self, name: &str) {
        let Some(index) = self.by_name.remove(name) else {
            return;
        };
        self.nodes.remove(index);
        self.order.retain(|&i| i != index);
        self.usage.remove(index);
        let on_node: Vec<PodKey> = self
            .placed
            .iter()
            .filter(|(_, p)| p.row.is_some() && p.node_name == name)
            .map(|(k, _)| k.clone())
            .collect();
        for key in on_node {
            if let Some(placed) = self.placed.get_mut(&key)
                && let Some(row) = placed.row.take()
            {
                self.drop_row(row);
            }
            self.waiting.entry(name.to_string()).or_default().push(key);
        }
    }

    /// Forgets every node and pod absent from `nodes` / `pods` (after a relist).
    pub fn retain_nodes(&mut self, names: &std::collections::HashSet<String>) {
        let gone: Vec<String> = self
            .by_name
            .keys()
            .filter(|n| !names.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            self.remove_node(&name);
        }
    }

    /// Whether `key` holds a node here, and which.
    pub fn placement(&self, key: &PodKey) -> Option<(&str, &str)> {
        self.placed
            .get(key)
            .map(|p| (p.uid.as_str(), p.node_name.as_str()))
    }

    /// Whether `pod` is placed on `node_name` as it is now (the same pod, labels, affinity
    /// and requests), so placing it again would change nothing.
    pub fn holds(&self, pod: &PodInfo, node_name: &str) -> bool {
        self.placed.get(&pod.key).is_some_and(|placed| {
            placed.uid == pod.uid
                && placed.node_name == node_name
                && placed.record.labels == pod.record.labels
                && placed.record.affinity_json == pod.record.affinity_json
                && placed.requests == pod.record.requests
        })
    }

    /// The keys of every placed pod.
    pub fn placed_keys(&self) -> Vec<PodKey> {
        self.placed.keys().cloned().collect()
    }

    /// Places `pod` on node `node_name` (bound there, or assumed), replacing any earlier
    /// placement of the same key.
    pub fn place(&mut self, pod: &PodInfo, node_name: &str) {
        self.unplace(&pod.key);
        let placed = Placed {
            uid: pod.uid.clone(),
            node_name: node_name.to_string(),
            row: None,
            requests: pod.record.requests.clone(),
            record: PlacedPod {
                index: 0,
                namespace: pod.key.namespace.clone(),
                labels: pod.record.labels.clone(),
                node: 0,
                affinity_json: pod.record.affinity_json.clone(),
            },
        };
        self.placed.insert(pod.key.clone(), placed);
        match self.by_name.get(node_name) {
            Some(&index) => self.attach(&pod.key, index),
            None => self
                .waiting
                .entry(node_name.to_string())
                .or_default()
                .push(pod.key.clone()),
        }
    }

    /// Counts a placed pod on node `index` and gives it a pod table row.
    fn attach(&mut self, key: &PodKey, index: u32) {
        let Some(placed) = self.placed.get_mut(key) else {
            return;
        };
        let row = self.pods.allocate();
        placed.row = Some(row);
        placed.record.index = row;
        placed.record.node = index;
        if placed.record.affinity_json.is_some() {
            self.with_affinity += 1;
        }
        self.pods.set(row, placed.record.clone());
        let requests = placed.requests.clone();
        self.usage
            .update(index, |usage| charge(&mut usage.used, &requests, true));
    }

    /// Forgets a pod's placement; answers whether it had one.
    pub fn unplace(&mut self, key: &PodKey) -> bool {
        let Some(placed) = self.placed.remove(key) else {
            return false;
        };
        match placed.row {
            Some(row) => {
                if let Some(node) = self.drop_row(row) {
                    self.usage.update(node, |usage| {
                        charge(&mut usage.used, &placed.requests, false)
                    });
                }
            }
            None => {
                if let Some(keys) = self.waiting.get_mut(&placed.node_name) {
                    keys.retain(|k| k != key);
                }
            }
        }
        true
    }

    /// Removes a pod table row; answers the node it was on.
    fn drop_row(&mut self, row: u32) -> Option<u32> {
        let pod = self.pods.remove(row)?;
        if pod.affinity_json.is_some() {
            self.with_affinity -= 1;
        }
        Some(pod.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, cpu: &str) -> PodInfo {
        PodInfo::from_object(&json!({
            "metadata": {"namespace": "default", "name": name, "uid": name},
            "spec": {"containers": [{"resources": {"requests": {"cpu": cpu}}}]},
        }))
        .expect("named")
    }

    fn node(name: &str) -> serde_json::Value {
        json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": "4", "pods": "10"}}})
    }

    #[test]
    fn usage_follows_placements_and_waits_for_unknown_nodes() {
        let mut s = Snapshot::default();
        assert!(s.upsert_node(&node("a")));
        assert!(!s.upsert_node(&node("a")), "known already, and unchanged");
        let generation = crate::plugin::SyncedTable::generation(s.nodes());
        let mut heartbeat = node("a");
        heartbeat["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        assert!(
            !s.upsert_node(&heartbeat),
            "a status heartbeat changes nothing read"
        );
        assert_eq!(
            crate::plugin::SyncedTable::generation(s.nodes()),
            generation
        );
        let a = s.node_index("a").expect("known");
        s.place(&pod("p1", "1"), "a");
        s.place(&pod("p2", "500m"), "b");
        let used = |s: &Snapshot, n: u32| s.usage().get(n).map(|u| (u.used.milli_cpu, u.used.pods));
        assert_eq!(used(&s, a), Some((1000, 1)));
        assert_eq!(s.pods().len(), 1, "p2 waits for node b");

        assert!(s.upsert_node(&node("b")));
        let b = s.node_index("b").expect("known");
        assert_eq!(used(&s, b), Some((500, 1)));
        assert_eq!(s.pods().len(), 2);

        assert!(s.unplace(&pod("p1", "1").key));
        s.remove_node("b");
        assert_eq!(s.order(), &[a]);
        assert_eq!(used(&s, a), Some((0, 0)));
        assert_eq!(used(&s, b), None, "a removed node has no usage row");
        assert_eq!(s.pods().len(), 0, "p2 waits again");
        assert_eq!(s.placement(&pod("p2", "1").key), Some(("p2", "b")));
    }

    #[test]
    fn a_bound_pod_whose_labels_change_is_placed_again() {
        let mut s = Snapshot::default();
        s.upsert_node(&node("a"));
        let labelled = |app: &str| {
            PodInfo::from_object(&json!({
                "metadata": {"namespace": "default", "name": "p", "uid": "p",
                             "labels": {"app": app}},
                "spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]},
            }))
            .expect("named")
        };
        s.place(&labelled("web"), "a");
        assert!(s.holds(&labelled("web"), "a"));
        assert!(!s.holds(&labelled("db"), "a"), "labels changed");
        assert!(!s.holds(&labelled("web"), "b"), "another node");
        s.place(&labelled("db"), "a");
        let rows = crate::plugin::SyncedTable::all(s.pods());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].labels, vec![("app".to_string(), "db".to_string())]);
        let a = s.node_index("a").expect("known");
        assert_eq!(
            s.usage().get(a).map(|u| u.used.milli_cpu),
            Some(1000),
            "counted once"
        );
    }
}
