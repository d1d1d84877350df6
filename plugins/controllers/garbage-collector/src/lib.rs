//! Controller plugin: the garbage collector. Objects whose owners (`ownerReferences`) are
//! gone are deleted, and deletions with `propagationPolicy` `Foreground` or `Orphan` are
//! carried out, as Kubernetes' garbage collector does
//! (<https://kubernetes.io/docs/concepts/architecture/garbage-collection/>).
//!
//! Keys are objects of every managed kind (configuration `{"kinds": [{"group": "",
//! "kind": "Pod"}, ...]}`, see [`config`]). One reconcile handles the key's own state:
//! - deleting with the `orphan` finalizer: [`orphan`];
//! - deleting with the `foregroundDeletion` finalizer: [`foreground`];
//! - otherwise, with owner references: [`attempt_delete`].
//!
//! Dependents are found by listing every managed kind in the owner's namespace (everywhere
//! for a cluster-scoped owner) and keeping those naming the owner's uid ([`scope`]).

pub mod attempt_delete;
pub mod config;
pub mod finalizers;
pub mod foreground;
pub mod item;
pub mod orphan;
pub mod owners;
pub mod scope;

#[cfg(test)]
mod tests;

use keel_sdk::controller::{ObjectRef, PluginError, ReconcileResult, Reconciler, View};
use serde_json::Value;

use crate::config::Config;
use crate::item::Item;
use crate::scope::Scope;

/// The controller, with its managed kinds.
#[derive(Debug)]
pub struct GarbageCollector {
    config: Config,
}

impl Reconciler for GarbageCollector {
    fn new(config: &str) -> Result<Self, PluginError> {
        Ok(GarbageCollector {
            config: Config::parse(config)?,
        })
    }

    fn reconcile(
        &self,
        view: &dyn View,
        key: &ObjectRef,
        object: Option<Value>,
    ) -> Result<ReconcileResult, PluginError> {
        let Some(object) = object else {
            return Ok(ReconcileResult::done());
        };
        let item = Item::new(&key.group, &key.kind, object);
        let scope = Scope::new(view, &self.config.kinds, item.namespace());
        if item.is_deleting() {
            // The API server refuses both finalizers on one object; orphaning wins if it
            // happens anyway, as nothing is deleted that way.
            if finalizers::has(&item.object, finalizers::ORPHAN) {
                return Ok(orphan::orphan_dependents(&item, &scope));
            }
            if finalizers::has(&item.object, finalizers::FOREGROUND_DELETION) {
                return Ok(foreground::delete_dependents(
                    view,
                    &self.config,
                    &item,
                    &scope,
                ));
            }
            return Ok(ReconcileResult::done());
        }
        let actions = attempt_delete::attempt_to_delete(view, &self.config, &item, &scope);
        Ok(ReconcileResult::actions(actions))
    }
}

keel_sdk::export_controller!(GarbageCollector);
