//! Controller plugin: Deployments, as Kubernetes' Deployment controller
//! (`pkg/controller/deployment`) runs them. Keys are `apps/Deployment` objects; each
//! reconcile reads the Deployment, the ReplicaSets of its namespace and (for Recreate) its
//! pods, and answers with ReplicaSet creates, updates and deletes and one write of the
//! Deployment (its status, or its revision annotation).
//!
//! One reconcile, in Kubernetes' order (`syncDeployment`):
//! 1. a Deployment gone or being deleted needs nothing (the garbage collector deletes its
//!    ReplicaSets);
//! 2. ReplicaSets are claimed ([`ownership`]): adopted when selected and orphaned, released
//!    when owned and no longer selected;
//! 3. the Progressing condition notes a pause or resume ([`progress`]), and the new
//!    ReplicaSet (template equal to the Deployment's) is found and its revision synced
//!    ([`new_replica_set`]);
//! 4. a paused Deployment, or one whose replica count changed, is only scaled
//!    ([`strategy::scale`]); otherwise it rolls out by its strategy
//!    ([`strategy::rolling`], [`strategy::recreate`]), creating the new ReplicaSet when
//!    there is none, and cleans up old revisions once complete ([`history`]);
//! 5. the status is computed from the ReplicaSets ([`status`], [`progress`]).
//!
//! Configuration: none (`null` or `{}`).

pub mod annotations;
pub mod conditions;
pub mod deployment;
pub mod hash;
pub mod history;
pub mod intstr;
pub mod new_replica_set;
pub mod ownership;
pub mod plan;
pub mod progress;
pub mod replicasets;
pub mod status;
pub mod strategy;
pub mod template;

#[cfg(test)]
mod tests;

use keel_sdk::controller::{
    ObjectRef, PluginError, ReconcileResult, Reconciler, View, objects, parse_config,
};
use keel_sdk::labels::Selector;
use serde::Deserialize;
use serde_json::Value;

use crate::deployment::{Deployment, Strategy};
use crate::plan::Plan;

/// The plugin's configuration: nothing yet, but unknown fields are refused so that a
/// misspelt option is noticed.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct Config {}

/// The Deployment controller.
pub struct DeploymentController;

impl Reconciler for DeploymentController {
    fn new(config: &str) -> Result<Self, PluginError> {
        let _: Option<Config> = parse_config(config)?;
        Ok(DeploymentController)
    }

    fn reconcile(
        &self,
        view: &dyn View,
        _key: &ObjectRef,
        object: Option<Value>,
    ) -> Result<ReconcileResult, PluginError> {
        let Some(object) = object else {
            return Ok(ReconcileResult::done());
        };
        if objects::is_deleting(&object) {
            return Ok(ReconcileResult::done());
        }
        let d = Deployment::read(object)?;
        sync_deployment(&d, view)
    }
}

/// `syncDeployment` for a Deployment that is not being deleted.
pub fn sync_deployment(d: &Deployment, view: &dyn View) -> Result<ReconcileResult, PluginError> {
    let replica_sets = view.list("apps", "ReplicaSet", &d.namespace, &Selector::everything());
    let claimed = ownership::claim(d, replica_sets);
    let mut plan = Plan::new(d, claimed.owned, claimed.released, view.now_millis());
    progress::check_paused(&mut plan);
    new_replica_set::find_and_sync(&mut plan);
    if d.paused {
        strategy::scale::sync(&mut plan, true);
    } else if strategy::scale::is_scaling_event(&plan) {
        strategy::scale::sync(&mut plan, false);
    } else {
        match d.strategy {
            Strategy::Recreate => strategy::recreate::rollout(&mut plan, view)?,
            Strategy::RollingUpdate { .. } => strategy::rolling::rollout(&mut plan, view)?,
        }
    }
    Ok(plan.into_result())
}

keel_sdk::export_controller!(DeploymentController);
