//! Network plugins: decide each pod's address from its node's pod CIDR; the node agent
//! applies the plan.

#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "network-plugin",
        path: "../wit",
        pub_export_macro: true,
    });
}

pub use bindings::exports::keel::plugin::network::{
    Guest as Network, NodeNetwork, PodAddress, PodRef,
};

crate::common_items!();

/// Exports a type implementing [`Network`] as the plugin's `keel:plugin/network`.
#[macro_export]
macro_rules! export_network {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::network::bindings::export!($plugin with_types_in $crate::network::bindings);
        // Off wasm32 nothing is exported; naming the (unit) type keeps it used.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = $plugin;
        };
    };
}
