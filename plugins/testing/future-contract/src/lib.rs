//! Test plugin built against `keel:plugin@0.3.0`, a contract version the host does not
//! speak: loading it must be refused with a message naming the version it wants.

#[allow(missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        inline: "
            package keel:plugin@0.3.0;
            interface admission {
                validate: func(name: string) -> bool;
            }
            world admission-plugin {
                export admission;
            }
        ",
    });
}

struct Future;

impl bindings::exports::keel::plugin::admission::Guest for Future {
    fn validate(_: String) -> bool {
        true
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(Future with_types_in bindings);
