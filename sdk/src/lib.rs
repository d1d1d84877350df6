//! `keel-sdk`: write Keel plugins in Rust.
//!
//! Each plugin type has a module with its trait, its typed records, and an export macro:
//!
//! | plugin type | module | trait | export macro |
//! |---|---|---|---|
//! | scheduler (filter and score) | [`scheduler`] | [`scheduler::Scheduler`] | [`export_scheduler!`] |
//! | admission (mutate and validate) | [`admission`] | [`admission::Admission`] | [`export_admission!`] |
//! | controller (reconcile) | [`controller`] | [`controller::Controller`] | [`export_controller!`] |
//! | network (pod addresses) | [`network`] | [`network::Network`] | [`export_network!`] |
//!
//! A plugin is a `cdylib` crate built with `cargo build --target wasm32-wasip2`:
//!
//! ```ignore
//! use keel_sdk::admission::{Admission, PluginError, Request, Steps, Verdict};
//!
//! struct AllowAll;
//!
//! impl Admission for AllowAll {
//!     // The host calls only `validate`; `mutate` keeps its default.
//!     const STEPS: Steps = Steps::VALIDATE;
//!
//!     fn validate(_: Request) -> Result<Verdict, PluginError> {
//!         Ok(Verdict::allow())
//!     }
//! }
//!
//! keel_sdk::export_admission!(AllowAll);
//! ```
//!
//! Every module also re-exports the `host` interface: [`scheduler::host::log`],
//! `config` and `now_millis`, plus [`scheduler::config`], which parses the plugin's
//! configuration into any `serde` type. The bindings are generated from `wit/plugin.wit`, the
//! one definition of the contract. The export macros expand to nothing on targets other than
//! `wasm32`, so a plugin's logic can also be compiled natively (for tests and benchmarks).

pub mod admission;
pub mod controller;
pub mod json;
pub mod labels;
pub mod network;
pub mod pods;
pub mod scheduler;

/// Kubernetes resource quantities (`100m`, `1.5Gi`).
pub use keel_quantity as quantity;

#[doc(hidden)]
pub use serde_json as __serde_json;

/// The contract version this SDK builds plugins against.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// A plugin-type module's bindings (the `generate!` output for `$world`) and the items every
/// such module shares, defined once.
macro_rules! world {
    ($world:tt) => {
        #[doc(hidden)]
        #[allow(missing_docs, clippy::all)]
        pub mod bindings {
            wit_bindgen::generate!({
                world: $world,
                path: "../wit",
                pub_export_macro: true,
            });
        }

        pub use bindings::keel::plugin::host;
        pub use bindings::keel::plugin::host::Level;
        pub use bindings::keel::plugin::types::PluginError;

        impl PluginError {
            /// An error with this message.
            pub fn new(message: impl Into<String>) -> Self {
                PluginError {
                    message: message.into(),
                }
            }
        }

        impl From<serde_json::Error> for PluginError {
            fn from(error: serde_json::Error) -> Self {
                PluginError::new(format!("bad JSON: {error}"))
            }
        }

        /// The plugin's configuration (`spec.config` of its `Plugin` object), parsed into `T`.
        /// An unset configuration parses as JSON `null`, so `Option<_>` or a
        /// `#[serde(default)]` struct accepts it.
        ///
        /// The text is asked of the host once per instance and kept: an instance serves one
        /// configuration all its life (a changed configuration is a new plugin version, with
        /// new instances), and the host call costs more than parsing a small configuration.
        pub fn config<T: serde::de::DeserializeOwned>() -> Result<T, PluginError> {
            static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            parse_config(TEXT.get_or_init(host::config))
        }

        /// Configuration text (what `host::config()` answers, or what a stateful plugin's
        /// `new` is given) parsed into `T`, with the error every plugin answers for a
        /// configuration it refuses ("bad configuration: ...").
        pub fn parse_config<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PluginError> {
            serde_json::from_str(text)
                .map_err(|e| PluginError::new(format!("bad configuration: {e}")))
        }
    };
}
pub(crate) use world;

/// The body of every `export_*!` macro: on wasm32, wit-bindgen's export of `$plugin` as the
/// implementation of module `$module`'s world; elsewhere nothing is exported, and naming the
/// (unit) type keeps it used.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_world {
    ($plugin:ident, $module:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::$module::bindings::export!($plugin with_types_in $crate::$module::bindings);
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = $plugin;
        };
    };
}
