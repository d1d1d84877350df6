//! Controller plugin: the node lifecycle controller. A node whose heartbeat is older than
//! the grace period is unreachable: its conditions become `Unknown`, it is tainted
//! `node.kubernetes.io/unreachable` (`NoExecute` and `NoSchedule`), and its pods are
//! evicted once their toleration of that taint runs out; a node whose heartbeat is fresh
//! again loses the taints. As Kubernetes' node lifecycle controller and taint-based
//! evictions do (<https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller>,
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions>).
//!
//! Keys are Nodes. The view holds Nodes, their Leases (`kube-node-lease`) and Pods. Each
//! reconcile sends at most one write to the node (its status, or else its taints: both are
//! guarded by the same resourceVersion), and asks to be called again when something is due.

pub mod conditions;
pub mod config;
pub mod eviction;
pub mod heartbeat;
pub mod taints;
pub mod tolerations;

#[cfg(test)]
mod tests;

use keel_sdk::controller::{Action, ObjectRef, PluginError, ReconcileResult, Reconciler, View};
use serde_json::Value;

use crate::config::Config;
use crate::heartbeat::{LEASE_GROUP, LEASE_NAMESPACE, last_heartbeat};

/// How soon a node written to is looked at again, for the next step (its taints after its
/// status, its pods after its taints).
pub const FOLLOW_UP_MILLIS: u64 = 10;

/// How much after the heartbeat expires a fresh node is looked at again.
pub const EXPIRY_MARGIN_MILLIS: u64 = 1;

/// The controller, with its configuration.
#[derive(Debug)]
pub struct NodeLifecycle {
    config: Config,
}

impl Reconciler for NodeLifecycle {
    fn new(config: &str) -> Result<Self, PluginError> {
        Ok(NodeLifecycle {
            config: Config::parse(config)?,
        })
    }

    fn reconcile(
        &self,
        view: &dyn View,
        key: &ObjectRef,
        object: Option<Value>,
    ) -> Result<ReconcileResult, PluginError> {
        let Some(node) = object else {
            return Ok(ReconcileResult::done());
        };
        let now = view.now_millis();
        let lease = view.get(LEASE_GROUP, "Lease", LEASE_NAMESPACE, &key.name);
        let Some(last) = last_heartbeat(&node, lease.as_ref()) else {
            // Nothing says when it was alive (not even its creation): never judge it.
            return Ok(ReconcileResult::done().requeue_after(self.config.period_millis()));
        };
        let expires = last.saturating_add(self.config.grace_millis());
        if now <= expires {
            Ok(self.reachable(&node, expires - now))
        } else {
            Ok(self.unreachable(view, &key.name, &node, now))
        }
    }
}

impl NodeLifecycle {
    /// A node with a fresh heartbeat, which expires in `expires_in` ms: its unreachable
    /// taints go (Ready is left to the kubelet).
    fn reachable(&self, node: &Value, expires_in: u64) -> ReconcileResult {
        let actions = taints::without_unreachable(node)
            .map(|untainted| Action::update(&untainted))
            .into_iter()
            .collect();
        ReconcileResult::actions(actions).requeue_after(expires_in + EXPIRY_MARGIN_MILLIS)
    }

    /// A node without a heartbeat for longer than the grace period: status, then taints,
    /// then evictions, one step per reconcile.
    fn unreachable(&self, view: &dyn View, name: &str, node: &Value, now: u64) -> ReconcileResult {
        if let Some(unknown) = conditions::marked_unknown(node, now) {
            return ReconcileResult::actions(vec![Action::update_status(&unknown)])
                .requeue_after(FOLLOW_UP_MILLIS);
        }
        if let Some(tainted) = taints::with_unreachable(node, now) {
            return ReconcileResult::actions(vec![Action::update(&tainted)])
                .requeue_after(FOLLOW_UP_MILLIS);
        }
        let recheck = ReconcileResult::done().requeue_after(self.config.period_millis());
        let Some(tainted_at) = taints::unreachable_since(node) else {
            return recheck;
        };
        let pods = eviction::pods_on(view, name);
        let evictions = eviction::plan(
            &pods,
            tainted_at,
            self.config.default_toleration_seconds,
            now,
        );
        let result =
            ReconcileResult::actions(evictions.due).requeue_after(self.config.period_millis());
        match evictions.next_in_millis {
            Some(next) => result.requeue_after(next),
            None => result,
        }
    }
}

keel_sdk::export_controller!(NodeLifecycle);
