//! Controller plugins: `reconcile` one key, reading the host's scoped cache through
//! [`cache`], and answer with [`Action`]s the host applies with optimistic concurrency.

pub use bindings::exports::keel::plugin::controller::{
    Action, Guest as Controller, ReconcileResult,
};
pub use bindings::keel::plugin::cache;
pub use bindings::keel::plugin::types::ObjectRef;

crate::world!("controller-plugin");

/// Exports a type implementing [`Controller`] as the plugin's `keel:plugin/controller`.
#[macro_export]
macro_rules! export_controller {
    ($plugin:ident) => {
        $crate::__export_world!($plugin, controller);
    };
}
