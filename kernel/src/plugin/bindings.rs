//! wasmtime bindings generated from `wit/plugin.wit`: one module per world. The `types`,
//! `host` and `cache` interfaces are generated once (in `scheduler` and `controller`) and
//! shared by the other worlds through `with`, so the host implements each interface once.

#![allow(missing_docs)]

/// The `scheduler-plugin` world; owner of the shared `types` and `host` interfaces.
pub mod scheduler {
    wasmtime::component::bindgen!({
        world: "scheduler-plugin",
        path: "../wit",
        // The scheduler compares records it holds (a placed pod's requests) with new ones.
        additional_derives: [PartialEq],
    });
}

/// The `admission-plugin` world.
pub mod admission {
    wasmtime::component::bindgen!({
        world: "admission-plugin",
        path: "../wit",
        // Admission calls run in the request's own task: async, yielding at every epoch tick
        // (`Plugin::call_async`).
        exports: { default: async },
        with: {
            "keel:plugin/types": super::scheduler::keel::plugin::types,
            "keel:plugin/host": super::scheduler::keel::plugin::host,
            "keel:plugin/cache": super::controller::keel::plugin::cache,
        },
    });
}

/// The `controller-plugin` world; owner of the `cache` interface.
pub mod controller {
    wasmtime::component::bindgen!({
        world: "controller-plugin",
        path: "../wit",
        with: {
            "keel:plugin/types": super::scheduler::keel::plugin::types,
            "keel:plugin/host": super::scheduler::keel::plugin::host,
        },
    });
}

/// The `network-plugin` world.
pub mod network {
    wasmtime::component::bindgen!({
        world: "network-plugin",
        path: "../wit",
        with: {
            "keel:plugin/types": super::scheduler::keel::plugin::types,
            "keel:plugin/host": super::scheduler::keel::plugin::host,
        },
    });
}

pub use scheduler::keel::plugin::{host, types};
