//! The scheduler's view of the cluster: every node (the resident node table plugins get),
//! what each node has allocated (requests of the pods bound or assumed there, as usage
//! columns), and the placed pods (the resident pod table for plugins that read pods).
//!
//! A pod bound to a node the snapshot does not know yet waits, by node name, and counts
//! once the node appears.

use std::collections::HashMap;

use super::pod::{PodInfo, PodKey};
use super::table::Table;
use crate::plugin::calls::{Candidates, Node, PlacedPod, Resources};

/// What one node has allocated.
#[derive(Debug, Default, Clone)]
struct Usage {
    milli_cpu: u64,
    memory: u64,
    pods: u64,
    extended: Vec<(String, u64)>,
}

impl Usage {
    fn apply(&mut self, r: &Resources, add: bool) {
        let step = |total: &mut u64, amount: u64| {
            *total = if add {
                total.saturating_add(amount)
            } else {
                total.saturating_sub(amount)
            };
        };
        step(&mut self.milli_cpu, r.milli_cpu);
        step(&mut self.memory, r.memory);
        step(&mut self.pods, r.pods);
        for (name, amount) in &r.extended {
            match self.extended.iter_mut().find(|(n, _)| n == name) {
                Some((_, total)) => step(total, *amount),
                None if add => self.extended.push((name.clone(), *amount)),
                None => {}
            }
        }
    }

    fn extended(&self, name: &str) -> u64 {
        self.extended
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, a)| *a)
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
    usage: Vec<Usage>,
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

    /// Adds or replaces a node; answers whether it is new.
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
        if new {
            self.by_name.insert(node.name.clone(), index);
            self.order.push(index);
            let slot = index as usize;
            if self.usage.len() <= slot {
                self.usage.resize_with(slot + 1, Usage::default);
            }
            self.usage[slot] = Usage::default();
        }
        let name = node.name.clone();
        self.nodes.set(index, node);
        if new {
            for key in self.waiting.remove(&name).unwrap_or_default() {
                self.attach(&key, index);
            }
        }
        new
    }

    /// Removes a node; the pods placed there wait for a node of that name again.
    pub fn remove_node(&mut self, name: &str) {
        let Some(index) = self.by_name.remove(name) else {
            return;
        };
        self.nodes.remove(index);
        self.order.retain(|&i| i != index);
        if let Some(usage) = self.usage.get_mut(index as usize) {
            *usage = Usage::default();
        }
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
        if let Some(usage) = self.usage.get_mut(index as usize) {
            usage.apply(&placed.requests, true);
        }
    }

    /// Forgets a pod's placement; answers whether it had one.
    pub fn unplace(&mut self, key: &PodKey) -> bool {
        let Some(placed) = self.placed.remove(key) else {
            return false;
        };
        match placed.row {
            Some(row) => {
                let node = self.drop_row(row);
                if let Some(usage) = node.and_then(|n| self.usage.get_mut(n as usize)) {
                    usage.apply(&placed.requests, false);
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

    /// The candidates record for node indexes `index`, with usage columns when
    /// `with_usage` (for the extended resources `requests` names).
    pub fn candidates(
        &self,
        index: Vec<u32>,
        requests: &Resources,
        with_usage: bool,
    ) -> Candidates {
        if !with_usage {
            return Candidates {
                index,
                used_milli_cpu: Vec::new(),
                used_memory: Vec::new(),
                used_pods: Vec::new(),
                used_extended: Vec::new(),
            };
        }
        let usage = |i: &u32| self.usage.get(*i as usize);
        let column = |f: fn(&Usage) -> u64| index.iter().map(|i| usage(i).map_or(0, f)).collect();
        let mut used_extended = Vec::with_capacity(index.len() * requests.extended.len());
        for (name, _) in &requests.extended {
            used_extended.extend(
                index
                    .iter()
                    .map(|i| usage(i).map_or(0, |u| u.extended(name))),
            );
        }
        Candidates {
            used_milli_cpu: column(|u| u.milli_cpu),
            used_memory: column(|u| u.memory),
            used_pods: column(|u| u.pods),
            used_extended,
            index,
        }
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
        assert!(!s.upsert_node(&node("a")), "known already");
        let a = s.node_index("a").expect("known");
        s.place(&pod("p1", "1"), "a");
        s.place(&pod("p2", "500m"), "b");
        let r = Resources {
            milli_cpu: 0,
            memory: 0,
            pods: 1,
            extended: vec![],
        };
        let c = s.candidates(vec![a], &r, true);
        assert_eq!((c.used_milli_cpu[0], c.used_pods[0]), (1000, 1));
        assert_eq!(s.pods().len(), 1, "p2 waits for node b");

        assert!(s.upsert_node(&node("b")));
        let b = s.node_index("b").expect("known");
        let c = s.candidates(vec![a, b], &r, true);
        assert_eq!(c.used_milli_cpu, vec![1000, 500]);
        assert_eq!(s.pods().len(), 2);

        assert!(s.unplace(&pod("p1", "1").key));
        s.remove_node("b");
        assert_eq!(s.order(), &[a]);
        let c = s.candidates(vec![a], &r, true);
        assert_eq!(c.used_milli_cpu, vec![0]);
        assert_eq!(s.pods().len(), 0, "p2 waits again");
        assert_eq!(s.placement(&pod("p2", "1").key), Some(("p2", "b")));
        let c = s.candidates(vec![a], &r, false);
        assert!(c.used_milli_cpu.is_empty(), "no usage columns unless asked");
    }
}
