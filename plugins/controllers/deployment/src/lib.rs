//! Controller plugin: deployment (being written).

use keel_sdk::controller::{ObjectRef, PluginError, ReconcileResult, Reconciler, View};
use serde_json::Value;

/// The controller.
pub struct Deployment;

impl Reconciler for Deployment {
    fn new(_config: &str) -> Result<Self, PluginError> {
        Ok(Deployment)
    }

    fn reconcile(
        &self,
        _view: &dyn View,
        _key: &ObjectRef,
        _object: Option<Value>,
    ) -> Result<ReconcileResult, PluginError> {
        Ok(ReconcileResult::done())
    }
}

keel_sdk::export_controller!(Deployment);
