//! Scheduler plugins: `filter` and `score` one pod over every candidate node in one call.
//! Nodes are resident in the plugin (`sync_nodes`); per pod only indexes and usage columns
//! cross the boundary.

pub use bindings::exports::keel::plugin::scheduler::{
    Candidates, FilterResult, Guest as Scheduler, Node, Pod, Resources, Taint, TaintEffect,
    Toleration, TolerationOperator,
};

crate::world!("scheduler-plugin");

/// Exports a type implementing [`Scheduler`] as the plugin's `keel:plugin/scheduler`.
#[macro_export]
macro_rules! export_scheduler {
    ($plugin:ident) => {
        $crate::__export_world!($plugin, scheduler);
    };
}
