//! Scheduler plugin: Kubernetes' `NodeName` filter.
//!
//! A pod that names a node (`spec.nodeName`) fits only that node; a pod that names none fits
//! every node. This follows kube-scheduler's `nodename` plugin
//! (`pkg/scheduler/framework/plugins/nodename/node_name.go`: `Fits` is
//! `len(pod.Spec.NodeName) == 0 || pod.Spec.NodeName == node.Name`), and its reason,
//! "node(s) didn't match the requested node name".
//!
//! The plugin keeps each node's name by node index; it neither scores nor reads usage.

use keel_sdk::scheduler::{
    Candidates, Capabilities, FilterResult, Node, PluginError, Pod, PodFields, Rows, Scheduler,
    Verdicts,
};

/// Why a node does not fit, worded as Kubernetes' `nodename.ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// NodeName: every node's name, by node index.
pub struct NodeName {
    names: Rows<String>,
}

impl Scheduler for NodeName {
    fn new(_config: &str) -> Result<Self, PluginError> {
        Ok(NodeName {
            names: Rows::new("node"),
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FILTER.filter_needs(PodFields::NODE_NAME)
    }

    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        self.names
            .sync(upserts, removed, |node| node.index, |node| node.name);
    }

    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        let wanted = pod.node_name.as_deref().filter(|name| !name.is_empty());
        Verdicts::one_reason_each(nodes, |index| {
            let name = self.names.get(index)?;
            Ok(wanted.filter(|wanted| wanted != name).map(|_| ERR_REASON))
        })
    }
}

keel_sdk::export_scheduler!(NodeName);

#[cfg(test)]
mod tests {
    use super::*;
    use keel_sdk::scheduler::testing::{self, candidates, node};

    fn pod(node_name: Option<&str>) -> Pod {
        Pod {
            node_name: node_name.map(str::to_string),
            ..testing::pod("p")
        }
    }

    fn plugin() -> NodeName {
        let nodes = vec![node(0, "a"), node(1, "b"), node(2, "c")];
        testing::synced("null", nodes).expect("config")
    }

    // TestNodeName "no host specified": a pod without spec.nodeName fits every node.
    #[test]
    fn unset_node_name_fits_every_node() {
        let result = plugin()
            .filter(&pod(None), &candidates(&[0, 1, 2]))
            .expect("filter");
        assert_eq!(result.codes, vec![0, 0, 0]);
        assert!(result.reasons.is_empty());
    }

    // An empty spec.nodeName is unset (Kubernetes tests `len(pod.Spec.NodeName) == 0`).
    #[test]
    fn empty_node_name_fits_every_node() {
        let result = plugin()
            .filter(&pod(Some("")), &candidates(&[0, 1]))
            .expect("filter");
        assert_eq!(result.codes, vec![0, 0]);
    }

    // TestNodeName "host matches" and "host doesn't match": only the named node fits,
    // the others fail with nodename.ErrReason.
    #[test]
    fn named_node_fits_only_itself() {
        let result = plugin()
            .filter(&pod(Some("b")), &candidates(&[0, 1, 2]))
            .expect("filter");
        assert_eq!(result.codes, vec![1, 0, 1]);
        assert_eq!(
            result.reasons,
            vec![vec![
                "node(s) didn't match the requested node name".to_string()
            ]]
        );
    }

    // A pod naming a node that is not a candidate fits none of them.
    #[test]
    fn named_node_absent_fits_nothing() {
        let result = plugin()
            .filter(&pod(Some("z")), &candidates(&[0, 1, 2]))
            .expect("filter");
        assert_eq!(result.codes, vec![1, 1, 1]);
        assert_eq!(result.reasons.len(), 1);
    }

    #[test]
    fn unsynced_and_removed_nodes_are_errors() {
        let mut plugin = plugin();
        let error = plugin
            .filter(&pod(None), &candidates(&[7]))
            .expect_err("never synced");
        assert!(error.message.contains("7"), "{}", error.message);
        plugin.sync_nodes(Vec::new(), vec![1]);
        assert!(plugin.filter(&pod(None), &candidates(&[1])).is_err());
        assert!(plugin.filter(&pod(None), &candidates(&[0, 2])).is_ok());
    }

    #[test]
    fn upsert_replaces_name() {
        let mut plugin = plugin();
        plugin.sync_nodes(vec![node(0, "renamed")], Vec::new());
        let result = plugin
            .filter(&pod(Some("renamed")), &candidates(&[0, 1]))
            .expect("filter");
        assert_eq!(result.codes, vec![0, 1]);
    }

    #[test]
    fn declares_filter_only() {
        let capabilities = plugin().capabilities();
        assert!(capabilities.filters);
        assert!(!capabilities.scores);
        assert!(!capabilities.reads_usage);
        assert!(!capabilities.reads_pods);
    }
}
