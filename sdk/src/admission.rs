//! Admission plugins: `mutate` returns a JSON Patch for each write, `validate` allows or
//! denies it. Objects travel as JSON text; other objects a decision needs (the namespace,
//! LimitRanges, ResourceQuotas) are read through [`cache`].

pub use bindings::exports::keel::plugin::admission::{
    Denial, Guest as Admission, Mutation, Operation, Request, UserInfo, Verdict,
};
pub use bindings::keel::plugin::cache;
pub use bindings::keel::plugin::types::ObjectRef;

crate::world!("admission-plugin");

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
        $crate::__export_world!($plugin, admission);
    };
}
