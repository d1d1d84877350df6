//! Controller plugin: node IPAM. Each node without a `spec.podCIDR` gets the lowest
//! `/nodeCidrMaskSize` block of the cluster CIDR that no other node holds, written to
//! `spec.podCIDR` and `spec.podCIDRs`, as the range allocator of Kubernetes' node IPAM
//! controller does (kube-controller-manager `--cluster-cidr`, `--node-cidr-mask-size`).
//!
//! Keys are Nodes; the view holds every Node. A node that already has a pod CIDR keeps it
//! (the field is immutable once set). The host reconciles one key at a time on a cache that
//! already holds this controller's own last write, so two nodes never get the same block.
//!
//! Configuration (camelCase, all optional): `clusterCidr` (default `10.244.0.0/16`) and
//! `nodeCidrMaskSize` (default 24).

#[cfg(test)]
mod tests;

use std::collections::HashSet;

use ipnet::Ipv4Net;
use keel_sdk::controller::{
    Action, ObjectRef, PluginError, ReconcileResult, Reconciler, View, parse_config,
};
use keel_sdk::json::At;
use keel_sdk::labels::Selector;
use serde::Deserialize;
use serde_json::{Value, json};

/// The plugin's configuration, as written in `spec.config`.
#[derive(Deserialize, Debug, Default)]
#[serde(default, rename_all = "camelCase")]
struct Config {
    cluster_cidr: Option<String>,
    node_cidr_mask_size: Option<u8>,
}

/// The controller: the cluster CIDR and the size of each node's block.
#[derive(Debug)]
pub struct NodeIpam {
    cluster: Ipv4Net,
    mask: u8,
}

impl NodeIpam {
    /// The block for a node when the nodes hold `taken`: the lowest one that overlaps none.
    pub fn first_free(&self, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
        let taken: HashSet<Ipv4Net> = taken.iter().copied().collect();
        self.cluster.subnets(self.mask).ok()?.find(|block| {
            !taken.contains(block) && !taken.iter().any(|t| t.contains(block) || block.contains(t))
        })
    }
}

/// The pod CIDRs a node holds (`spec.podCIDRs`, and `spec.podCIDR`), IPv4 only.
pub fn held(node: &Value) -> Vec<Ipv4Net> {
    let listed = node
        .at("/spec/podCIDRs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    listed
        .chain(node.at("/spec/podCIDR"))
        .filter_map(Value::as_str)
        .filter_map(|text| text.parse().ok())
        .collect()
}

impl Reconciler for NodeIpam {
    fn new(config: &str) -> Result<Self, PluginError> {
        let config: Option<Config> = parse_config(config)?;
        let config = config.unwrap_or_default();
        let text = config.cluster_cidr.as_deref().unwrap_or("10.244.0.0/16");
        let cluster: Ipv4Net = text
            .parse()
            .map_err(|_| PluginError::new(format!("clusterCidr {text:?} is not an IPv4 CIDR")))?;
        let mask = config.node_cidr_mask_size.unwrap_or(24);
        if mask < cluster.prefix_len() || mask > 30 {
            return Err(PluginError::new(format!(
                "nodeCidrMaskSize {mask} must be between the cluster CIDR's prefix ({}) and 30",
                cluster.prefix_len()
            )));
        }
        Ok(NodeIpam {
            cluster: cluster.trunc(),
            mask,
        })
    }

    fn reconcile(
        &self,
        view: &dyn View,
        key: &ObjectRef,
        object: Option<Value>,
    ) -> Result<ReconcileResult, PluginError> {
        let Some(mut node) = object else {
            return Ok(ReconcileResult::done());
        };
        if node
            .at("/spec/podCIDR")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty())
        {
            return Ok(ReconcileResult::done());
        }
        let taken: Vec<Ipv4Net> = view
            .list("", "Node", "", &Selector::everything())
            .iter()
            .flat_map(held)
            .collect();
        let block = self.first_free(&taken).ok_or_else(|| {
            PluginError::new(format!(
                "no /{} block of {} is free for node {} (CIDRNotAvailable)",
                self.mask, self.cluster, key.name
            ))
        })?;
        node["spec"]["podCIDR"] = json!(block.to_string());
        node["spec"]["podCIDRs"] = json!([block.to_string()]);
        Ok(ReconcileResult::actions(vec![Action::update(&node)]))
    }
}

keel_sdk::export_controller!(NodeIpam);
