//! Admission plugins: `mutate` returns a JSON Patch for each write, `validate` allows or
//! denies it, and `describe` says which of the two the plugin has ([`Steps`]): the host
//! calls only those. Objects travel as JSON text; other objects a decision needs (the
//! namespace, LimitRanges, ResourceQuotas) are read through [`cache`].

pub use bindings::exports::keel::plugin::admission::{
    Denial, Mutation, Operation, Request, Steps, UserInfo, Verdict,
};
pub use bindings::keel::plugin::cache;
pub use bindings::keel::plugin::types::ObjectRef;

crate::world!("admission-plugin");

/// An admission plugin: the steps it has ([`Admission::STEPS`]) and their logic. A step the
/// plugin does not have keeps its default, which the host never calls.
pub trait Admission {
    /// Which steps the plugin has (the contract's `describe`).
    const STEPS: Steps;

    /// A JSON Patch for the write, or none; called only when [`Steps::mutates`].
    fn mutate(request: Request) -> Result<Mutation, PluginError> {
        let _ = request;
        Ok(Mutation::none())
    }

    /// Allows or denies the write; called only when [`Steps::validates`].
    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let _ = request;
        Ok(Verdict::allow())
    }
}

impl Steps {
    /// A plugin that only validates (its `mutate` is never called).
    pub const VALIDATE: Steps = Steps {
        mutates: false,
        validates: true,
    };

    /// A plugin that only mutates (its `validate` is never called).
    pub const MUTATE: Steps = Steps {
        mutates: true,
        validates: false,
    };

    /// A plugin that mutates and validates.
    pub const BOTH: Steps = Steps {
        mutates: true,
        validates: true,
    };
}

impl Verdict {
    /// Allows the write.
    pub fn allow() -> Verdict {
        Verdict {
            denied: None,
            warnings: vec![],
            status_updates: vec![],
        }
    }

    /// Denies the write with `code` (403 for policy, 422 for an invalid object) and the
    /// matching `reason` (`Forbidden`, `Invalid`).
    pub fn deny(code: u16, reason: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            denied: Some(Denial {
                code,
                reason: reason.into(),
                message: message.into(),
            }),
            warnings: vec![],
            status_updates: vec![],
        }
    }

    /// Denies the write as against policy: 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Verdict {
        Verdict::deny(403, "Forbidden", message)
    }

    /// Denies the write as an invalid object: 422 Invalid.
    pub fn invalid(message: impl Into<String>) -> Verdict {
        Verdict::deny(422, "Invalid", message)
    }
}

impl Mutation {
    /// Leaves the object as it is.
    pub fn none() -> Mutation {
        Mutation {
            patch: None,
            warnings: vec![],
        }
    }
}

/// Exports a type implementing [`Admission`] as the plugin's `keel:plugin/admission`.
#[macro_export]
macro_rules! export_admission {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        mod __keel_admission_export {
            use super::$plugin;
            use $crate::admission::{Admission, Mutation, PluginError, Request, Steps, Verdict};

            struct Export;

            impl $crate::admission::bindings::exports::keel::plugin::admission::Guest for Export {
                fn describe() -> Steps {
                    <$plugin as Admission>::STEPS
                }
                fn mutate(request: Request) -> Result<Mutation, PluginError> {
                    <$plugin as Admission>::mutate(request)
                }
                fn validate(request: Request) -> Result<Verdict, PluginError> {
                    <$plugin as Admission>::validate(request)
                }
            }

            $crate::admission::bindings::export!(Export with_types_in $crate::admission::bindings);
        }
        // Naming the (unit) type keeps it used where nothing is exported.
        const _: () = {
            let _ = $plugin;
        };
    };
}
