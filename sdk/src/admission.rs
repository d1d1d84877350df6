//! Admission plugins: `mutate` returns a JSON Patch for each write, `validate` allows or
//! denies it. Objects travel as JSON text.

#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "admission-plugin",
        path: "../wit",
        pub_export_macro: true,
    });
}

pub use bindings::exports::keel::plugin::admission::{
    Denial, Guest as Admission, Mutation, Operation, Request, UserInfo, Verdict,
};

crate::common_items!();

/// Exports a type implementing [`Admission`] as the plugin's `keel:plugin/admission`.
#[macro_export]
macro_rules! export_admission {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::admission::bindings::export!($plugin with_types_in $crate::admission::bindings);
        // Off wasm32 nothing is exported; naming the (unit) type keeps it used.
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = $plugin;
        };
    };
}
