//! Builders for the scheduler records, for plugins' unit tests: each returns a plain record
//! with sensible defaults, to adjust with struct update syntax where a test needs more:
//!
//! ```
//! use keel_sdk::scheduler::{testing, Node};
//!
//! let node = Node {
//!     labels: testing::labels(&[("zone", "a")]),
//!     ..testing::node(0, "n0")
//! };
//! assert_eq!(node.allocatable.pods, 110);
//! ```
//!
//! The module is compiled in every build (not only under `cfg(test)`), since the tests
//! using it are other crates'; nothing in it is called by a plugin's own code.

use super::{
    Candidates, FilterResult, Node, NodeUsage, PlacedPod, PluginError, Pod, Resources, Scheduler,
    Taint, TaintEffect, Toleration, TolerationOperator,
};

/// The well-known zone label, `topology.kubernetes.io/zone`.
pub const ZONE: &str = "topology.kubernetes.io/zone";

/// The well-known node name label, `kubernetes.io/hostname`.
pub const HOSTNAME: &str = "kubernetes.io/hostname";

/// Owned label pairs from borrowed ones, in order.
pub fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// cpu (millicores), memory (bytes) and pods, no extended resources.
pub fn resources(milli_cpu: u64, memory: u64, pods: u64) -> Resources {
    Resources {
        milli_cpu,
        memory,
        pods,
        extended: Vec::new(),
    }
}

/// Node `name` at `index`: no labels or taints, schedulable, 4 cpus, 16 GiB and 110 pods
/// allocatable.
pub fn node(index: u32, name: &str) -> Node {
    Node {
        index,
        name: name.to_string(),
        labels: Vec::new(),
        taints: Vec::new(),
        unschedulable: false,
        allocatable: resources(4000, 16 << 30, 110),
    }
}

/// Node `n{index}` at `index` with `labels`, otherwise as [`node`].
pub fn node_with_labels(index: u32, labels: &[(&str, &str)]) -> Node {
    Node {
        labels: self::labels(labels),
        ..node(index, &format!("n{index}"))
    }
}

/// Pod `name` in namespace `default`: no labels, node name, node selector, tolerations,
/// affinity or spread constraints; it requests one pod and nothing else.
pub fn pod(name: &str) -> Pod {
    Pod {
        namespace: "default".to_string(),
        name: name.to_string(),
        labels: Vec::new(),
        node_name: None,
        node_selector: Vec::new(),
        tolerations: Vec::new(),
        requests: resources(0, 0, 1),
        affinity_json: None,
        topology_spread_json: None,
    }
}

/// The candidates `index`.
pub fn candidates(index: &[u32]) -> Candidates {
    Candidates {
        index: index.to_vec(),
    }
}

/// What node `node` has allocated: `milli_cpu`, `memory` bytes and `pods`.
pub fn usage(node: u32, milli_cpu: u64, memory: u64, pods: u64) -> NodeUsage {
    NodeUsage {
        node,
        used: Resources {
            milli_cpu,
            memory,
            pods,
            extended: Vec::new(),
        },
    }
}

/// Placed pod `index` in namespace `default` on node `node`, with `labels` and no affinity.
pub fn placed(index: u32, node: u32, labels: &[(&str, &str)]) -> PlacedPod {
    PlacedPod {
        index,
        namespace: "default".to_string(),
        labels: self::labels(labels),
        node,
        affinity_json: None,
    }
}

/// The taint `key=value:effect`.
pub fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
    Taint {
        key: key.to_string(),
        value: value.to_string(),
        effect,
    }
}

/// A toleration; `effect` None tolerates every effect.
pub fn toleration(
    key: &str,
    operator: TolerationOperator,
    value: &str,
    effect: Option<TaintEffect>,
) -> Toleration {
    Toleration {
        key: key.to_string(),
        operator,
        value: value.to_string(),
        effect,
    }
}

/// Plugin `S` built from `config` (JSON, `"null"` when unset) with `nodes` synced.
pub fn synced<S: Scheduler>(config: &str, nodes: Vec<Node>) -> Result<S, PluginError> {
    let mut plugin = S::new(config)?;
    plugin.sync_nodes(nodes, Vec::new());
    Ok(plugin)
}

/// Five nodes over two zones: n0 and n1 in zone `a`, n2 and n3 in zone `b`, n4 without a
/// [`ZONE`] label; each has its [`HOSTNAME`] label.
pub fn two_zones() -> Vec<Node> {
    let zones = [Some("a"), Some("a"), Some("b"), Some("b"), None];
    (0u32..)
        .zip(zones)
        .map(|(index, zone)| {
            let name = format!("n{index}");
            let mut pairs: Vec<(&str, &str)> = zone.map(|zone| (ZONE, zone)).into_iter().collect();
            pairs.push((HOSTNAME, &name));
            node_with_labels(index, &pairs)
        })
        .collect()
}

/// Each candidate's first reason, or None where it is feasible.
pub fn first_reasons(result: &FilterResult) -> Vec<Option<&str>> {
    result
        .codes
        .iter()
        .map(|&code| match code {
            0 => None,
            code => result
                .reasons
                .get(usize::from(code) - 1)
                .and_then(|reasons| reasons.first())
                .map(String::as_str),
        })
        .collect()
}
