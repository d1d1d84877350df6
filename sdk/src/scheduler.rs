//! Scheduler plugins: `filter` and `score` one pod over every candidate node in one call.
//! Nodes are resident in the plugin (`sync_nodes`); per pod only indexes and usage columns
//! cross the boundary.

#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "scheduler-plugin",
        path: "../wit",
        pub_export_macro: true,
    });
}

pub use bindings::exports::keel::plugin::scheduler::{
    Candidates, FilterResult, Guest as Scheduler, Node, Pod, Resources, Taint, TaintEffect,
    Toleration, TolerationOperator,
};

crate::common_items!();

/// Exports a type implementing [`Scheduler`] as the plugin's `keel:plugin/scheduler`.
#[macro_export]
macro_rules! export_scheduler {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::scheduler::bindings::export!($plugin with_types_in $crate::scheduler::bindings);
        // Off wasm32 nothing is exported; naming the (unit) type keeps it used.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = $plugin;
        };
    };
}
