//! Controller plugins: `reconcile` one key, reading the host's scoped cache through
//! [`cache`], and answer with [`Action`]s the host applies with optimistic concurrency.

#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "controller-plugin",
        path: "../wit",
        pub_export_macro: true,
    });
}

pub use bindings::exports::keel::plugin::controller::{
    Action, Guest as Controller, ReconcileResult,
};
pub use bindings::keel::plugin::cache;
pub use bindings::keel::plugin::types::ObjectRef;

crate::common_items!();

/// Exports a type implementing [`Controller`] as the plugin's `keel:plugin/controller`.
#[macro_export]
macro_rules! export_controller {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::controller::bindings::export!($plugin with_types_in $crate::controller::bindings);
        // Off wasm32 nothing is exported; naming the (unit) type keeps it used.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = $plugin;
        };
    };
}
