//! Controller plugin: garbage-collector (being written).

use keel_sdk::controller::{ObjectRef, PluginError, ReconcileResult, Reconciler, View};
use serde_json::Value;

/// The controller.
pub struct GarbageCollector;

impl Reconciler for GarbageCollector {
    fn new(_config: &str) -> Result<Self, PluginError> {
        Ok(GarbageCollector)
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

keel_sdk::export_controller!(GarbageCollector);
