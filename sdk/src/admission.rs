//! Admission plugins: `mutate` returns a JSON Patch for each write, `validate` allows or
//! denies it. Objects travel as JSON text.

pub use bindings::exports::keel::plugin::admission::{
    Denial, Guest as Admission, Mutation, Operation, Request, UserInfo, Verdict,
};

crate::world!("admission-plugin");

/// Exports a type implementing [`Admission`] as the plugin's `keel:plugin/admission`.
#[macro_export]
macro_rules! export_admission {
    ($plugin:ident) => {
        $crate::__export_world!($plugin, admission);
    };
}
