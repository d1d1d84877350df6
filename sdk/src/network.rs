//! Network plugins: decide each pod's address from its node's pod CIDR; the node agent
//! applies the plan.

pub use bindings::exports::keel::plugin::network::{
    Guest as Network, NodeNetwork, PodAddress, PodRef,
};

crate::world!("network-plugin");

/// Exports a type implementing [`Network`] as the plugin's `keel:plugin/network`.
#[macro_export]
macro_rules! export_network {
    ($plugin:ident) => {
        $crate::__export_world!($plugin, network);
    };
}
