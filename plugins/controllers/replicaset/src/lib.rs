//! Controller plugin: the ReplicaSet controller. It keeps `spec.replicas` pods running for
//! every `apps/v1` ReplicaSet, adopting and releasing pods as its selector says, and reports
//! the counts in its status, as kube-controller-manager's ReplicaSet controller does
//! (<https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/>).
//!
//! Keys are ReplicaSets; the view holds the namespace's Pods and ReplicaSets. One reconcile
//! (`syncReplicaSet`):
//! 1. reads the spec ([`spec`]; a spec the API would refuse is an error);
//! 2. claims the namespace's active pods ([`claim`]: adopt and release);
//! 3. writes the status if it changed ([`status`]);
//! 4. creates pods from the template ([`pod_template`]) or deletes the surplus, best
//!    candidates first ([`scale_down`]), at most `burstReplicas` at a time
//!    ([`manage_replicas`]).
//!
//! A ReplicaSet being deleted only gets its status kept. The answer's order (ownership,
//! then status, then creations and deletions) lets the status be reported even while
//! creations fail (a refused creation drops what follows it, much as Kubernetes' slow-start
//! batches stop at the first failure).
//!
//! Configuration ([`config::Config`]): `{"burstReplicas": 500, "statusTerminatingReplicas": true}`.

pub mod claim;
pub mod config;
pub mod manage_replicas;
pub mod pod_template;
pub mod scale_down;
pub mod spec;
pub mod status;

#[cfg(test)]
mod tests;

use keel_sdk::controller::{
    Action, ObjectRef, PluginError, ReconcileResult, Reconciler, View, objects,
};
use keel_sdk::labels::Selector;
use serde_json::Value;

use crate::config::Config;
use crate::spec::Spec;
use crate::status::Counts;

/// How soon a ReplicaSet that needed more than `burstReplicas` changes is reconciled again.
pub const BURST_REQUEUE_MILLIS: u64 = 10;

/// The ReplicaSet controller, with its configuration.
#[derive(Debug, Clone)]
pub struct ReplicaSetController {
    config: Config,
}

impl Reconciler for ReplicaSetController {
    fn new(config: &str) -> Result<Self, PluginError> {
        Ok(ReplicaSetController {
            config: Config::parse(config)?,
        })
    }

    fn reconcile(
        &self,
        view: &dyn View,
        key: &ObjectRef,
        object: Option<Value>,
    ) -> Result<ReconcileResult, PluginError> {
        let Some(rs) = object else {
            return Ok(ReconcileResult::done());
        };
        let spec = Spec::read(&rs)?;
        if objects::uid(&rs).is_empty() {
            return Err(PluginError::new("the ReplicaSet has no metadata.uid"));
        }
        let namespace = objects::namespace(&rs);
        if namespace.is_empty() {
            return Err(PluginError::new(format!(
                "the ReplicaSet {} has no namespace",
                key.name
            )));
        }
        let now = view.now_millis();
        let all_pods = view.list("", "Pod", namespace, &Selector::everything());

        let active = all_pods
            .iter()
            .filter(|pod| objects::pod_is_active(pod))
            .cloned()
            .collect();
        let claim = claim::claim_pods(&rs, &spec.selector, active);
        let terminating = self
            .config
            .status_terminating_replicas
            .then(|| claim::terminating_pods(&rs, &spec.selector, &all_pods));
        let counts = Counts::of(
            &claim.owned,
            terminating,
            spec.template,
            spec.min_ready_seconds,
            now,
        );

        let mut actions = claim.actions;
        if let Some(updated) = status::updated(&rs, &counts) {
            actions.push(Action::update_status(&updated));
        }
        let mut more_to_do = false;
        if !objects::is_deleting(&rs) {
            let scaling = manage_replicas::manage_replicas(
                view,
                &rs,
                &spec,
                &claim.owned,
                &all_pods,
                self.config.burst_replicas,
            );
            actions.extend(scaling.actions);
            more_to_do = scaling.more_to_do;
        }
        let mut result = ReconcileResult::actions(actions);
        if let Some(millis) = status::next_availability(&claim.owned, spec.min_ready_seconds, now) {
            result = result.requeue_after(millis);
        }
        if more_to_do {
            result = result.requeue_after(BURST_REQUEUE_MILLIS);
        }
        Ok(result)
    }
}

keel_sdk::export_controller!(ReplicaSetController);
