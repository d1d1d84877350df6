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
//!    candidates first ([`scale_down`]), at most `burstReplicas` at a time.
//!
//! A ReplicaSet being deleted only gets its status kept. The answer's order (ownership,
//! then status, then creations and deletions) lets the status be reported even while
//! creations fail (a refused creation drops what follows it, much as Kubernetes' slow-start
//! batches stop at the first failure).
//!
//! Configuration ([`config::Config`]): `{"burstReplicas": 500, "statusTerminatingReplicas": true}`.

pub mod claim;
pub mod config;
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
            .then(|| terminating_pods(&rs, &spec.selector, &all_pods));
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
            let (changes, more) = self.scale(view, &rs, &spec, &claim.owned, &all_pods);
            actions.extend(changes);
            more_to_do = more;
        }
        let mut result = ReconcileResult::actions(actions);
        if let Some(millis) = status::next_availability(&claim.owned, spec.min_ready_seconds, now)
        {
            result = result.requeue_after(millis);
        }
        if more_to_do {
            result = result.requeue_after(BURST_REQUEUE_MILLIS);
        }
        Ok(result)
    }
}

impl ReplicaSetController {
    /// `manageReplicas`: the creations or deletions that bring `owned` to `spec.replicas`
    /// (at most `burstReplicas`), and whether more remain for later.
    fn scale(
        &self,
        view: &dyn View,
        rs: &Value,
        spec: &Spec<'_>,
        owned: &[Value],
        all_pods: &[Value],
    ) -> (Vec<Action>, bool) {
        let burst = self.config.burst_replicas;
        if owned.len() < spec.replicas {
            let missing = spec.replicas - owned.len();
            let pod = pod_template::pod_from_template(rs, spec.template);
            let creates = (0..missing.min(burst)).map(|_| Action::create(&pod)).collect();
            (creates, missing > burst)
        } else if owned.len() > spec.replicas {
            let surplus = owned.len() - spec.replicas;
            let count = surplus.min(burst);
            let replica_sets = if count < owned.len() && objects::controller_ref(rs).is_some() {
                view.list("apps", "ReplicaSet", objects::namespace(rs), &Selector::everything())
            } else {
                Vec::new()
            };
            let related = scale_down::related_pods(rs, &replica_sets, all_pods);
            let deletes = scale_down::pods_to_delete(owned, &related, count, view.now_millis())
                .into_iter()
                .map(|pod| Action::delete("", "Pod", pod, None))
                .collect();
            (deletes, surplus > burst)
        } else {
            (Vec::new(), false)
        }
    }
}

/// How many of `pods` are terminating (being deleted, not finished) and claimed by `rs`
/// (`FilterTerminatingPods` then `FilterClaimedPods`).
fn terminating_pods(rs: &Value, selector: &Selector, pods: &[Value]) -> usize {
    pods.iter()
        .filter(|pod| objects::is_deleting(pod))
        .filter(|pod| {
            !matches!(
                pod.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            )
        })
        .filter(|pod| claim::is_controlled_by(pod, rs))
        .filter(|pod| selector.matches(&objects::labels(pod)))
        .count()
}

keel_sdk::export_controller!(ReplicaSetController);
