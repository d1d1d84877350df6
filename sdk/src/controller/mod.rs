//! Controller plugins: `reconcile` one key, reading the host's scoped cache through a
//! [`View`], and answer with [`Action`]s the host applies with optimistic concurrency.
//!
//! A controller implements [`Reconciler`] and exports it with [`export_controller!`](crate::export_controller). The
//! reconciler gets its cache and clock through [`View`]: inside the component that is
//! [`HostView`] (the `cache` import and `host.now-millis`); in a native test it is
//! [`testing::FakeView`], so a controller's logic is tested without a host.

pub mod objects;
pub mod testing;
pub mod time;

use serde_json::Value;

pub use bindings::exports::keel::plugin::controller::{
    Action, Deletion, Guest as Controller, Propagation, ReconcileResult,
};
pub use bindings::keel::plugin::cache;
pub use bindings::keel::plugin::types::ObjectRef;

use crate::labels::Selector;

crate::world!("controller-plugin");

/// What a reconciler reads: a read-only view of the host's cache, and a clock.
pub trait View {
    /// One object, if the view holds it.
    fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<Value>;
    /// Objects of a kind in `namespace` ("" for every namespace) that `selector` matches
    /// (a selector matching nothing lists nothing).
    fn list(&self, group: &str, kind: &str, namespace: &str, selector: &Selector) -> Vec<Value>;
    /// Wall-clock time in milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

/// The view inside a component: the host's `cache` import and clock.
pub struct HostView;

impl View for HostView {
    fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let text = cache::get(&ObjectRef {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        })?;
        serde_json::from_str(&text).ok()
    }

    fn list(&self, group: &str, kind: &str, namespace: &str, selector: &Selector) -> Vec<Value> {
        if selector.is_nothing() {
            return Vec::new();
        }
        cache::list(group, kind, namespace, &selector.to_string())
            .iter()
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect()
    }

    fn now_millis(&self) -> u64 {
        host::now_millis()
    }
}

/// A controller with state built once from its configuration.
pub trait Reconciler: Sized {
    /// The controller for `config` (the `Plugin` object's `spec.config` as JSON text,
    /// `null` when unset). An error makes every reconcile answer it.
    fn new(config: &str) -> Result<Self, PluginError>;

    /// Reconciles `key`; `object` is its current state (none: it is gone).
    fn reconcile(
        &self,
        view: &dyn View,
        key: &ObjectRef,
        object: Option<Value>,
    ) -> Result<ReconcileResult, PluginError>;
}

impl ObjectRef {
    /// A reference to `kind` `namespace/name` in `group`.
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl Action {
    /// Create `object`.
    pub fn create(object: &Value) -> Action {
        Action::Create(object.to_string())
    }

    /// Replace `object` (guarded by its `metadata.resourceVersion`).
    pub fn update(object: &Value) -> Action {
        Action::Update(object.to_string())
    }

    /// Replace `object`'s status (guarded by its `metadata.resourceVersion`).
    pub fn update_status(object: &Value) -> Action {
        Action::UpdateStatus(object.to_string())
    }

    /// Delete `object` (of `group`/`kind`), guarded by its uid, with `propagation`.
    pub fn delete(
        group: &str,
        kind: &str,
        object: &Value,
        propagation: Option<Propagation>,
    ) -> Action {
        Action::Delete(Deletion {
            target: ObjectRef::new(
                group,
                kind,
                objects::namespace(object),
                objects::name(object),
            ),
            uid: Some(objects::uid(object).to_string()).filter(|u| !u.is_empty()),
            propagation,
        })
    }
}

impl ReconcileResult {
    /// Nothing to do.
    pub fn done() -> ReconcileResult {
        ReconcileResult {
            actions: Vec::new(),
            requeue_after_millis: None,
        }
    }

    /// These actions.
    pub fn actions(actions: Vec<Action>) -> ReconcileResult {
        ReconcileResult {
            actions,
            requeue_after_millis: None,
        }
    }

    /// The same, and reconcile again after `millis` whatever happens.
    pub fn requeue_after(mut self, millis: u64) -> ReconcileResult {
        self.requeue_after_millis = Some(match self.requeue_after_millis {
            Some(earlier) => earlier.min(millis),
            None => millis,
        });
        self
    }
}

/// Exports a type implementing [`Reconciler`] as the plugin's `keel:plugin/controller`: one
/// instance per component instance, built from `host::config()` on the first call.
#[macro_export]
macro_rules! export_controller {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        mod __keel_controller_export {
            use super::$plugin;
            use $crate::controller::{ObjectRef, PluginError, ReconcileResult, Reconciler};

            thread_local! {
                static STATE: ::std::cell::RefCell<Option<Result<$plugin, PluginError>>> =
                    const { ::std::cell::RefCell::new(None) };
            }

            struct Export;

            impl $crate::controller::bindings::exports::keel::plugin::controller::Guest
                for Export
            {
                fn reconcile(
                    key: ObjectRef,
                    object: Option<String>,
                ) -> Result<ReconcileResult, PluginError> {
                    let object = object
                        .map(|text| $crate::__serde_json::from_str(&text))
                        .transpose()?;
                    STATE.with_borrow_mut(|state| {
                        let state = state.get_or_insert_with(|| {
                            <$plugin as Reconciler>::new(&$crate::controller::host::config())
                        });
                        match state {
                            Ok(plugin) => {
                                plugin.reconcile(&$crate::controller::HostView, &key, object)
                            }
                            Err(error) => Err(error.clone()),
                        }
                    })
                }
            }

            $crate::controller::bindings::export!(Export with_types_in $crate::controller::bindings);
        }
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = ::std::marker::PhantomData::<$plugin>;
        };
    };
}
