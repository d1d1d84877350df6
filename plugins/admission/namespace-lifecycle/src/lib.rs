//! Admission plugin: Kubernetes' NamespaceLifecycle. No new objects in a namespace that
//! does not exist or is being terminated, and the immortal namespaces cannot be deleted.
//!
//! Configuration (optional; the default is shown):
//! ```json
//! {"immortalNamespaces": ["default", "kube-system", "kube-public"]}
//! ```
//! A list given replaces the default one (an empty list protects no namespace).
//!
//! Behaviour, in `validate` (it only validates):
//! - **Create** of a namespaced object (`request.namespace` set, not a subresource, not a
//!   Namespace, not a `LocalSubjectAccessReview`, which Kubernetes always lets through): the
//!   namespace is read from the admission cache. Absent: 404 NotFound
//!   `namespaces "x" not found`. Terminating (`metadata.deletionTimestamp` set or
//!   `status.phase: Terminating`): 403 Forbidden
//!   `unable to create new content in namespace x because it is being terminated`.
//! - **Delete** of a Namespace named in `immortalNamespaces`: 403 Forbidden
//!   `this namespace may not be deleted`.
//! - Everything else (updates, deletes of other objects, cluster-scoped objects) is allowed.
//!
//! The decision is [`decide::check`], a pure function over the request and a namespace
//! lookup; this file only wires it to the host's configuration and cache.

pub mod decide;

use keel_sdk::admission::{
    Admission, Level, ObjectRef, PluginError, Request, Steps, Verdict, cache, config, host,
};
use keel_sdk::json::parse_only;

pub use decide::Config;

struct NamespaceLifecycle;

impl Admission for NamespaceLifecycle {
    const STEPS: Steps = Steps::VALIDATE;

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let config: Option<Config> = config()?;
        let config = config.unwrap_or_default();
        let verdict = decide::check(&request, &config, |name| {
            let text = cache::get(&ObjectRef {
                group: String::new(),
                kind: "Namespace".into(),
                namespace: String::new(),
                name: name.into(),
            })?;
            match parse_only(&text, &decide::NAMESPACE_READ) {
                Ok(namespace) => Some(namespace),
                Err(e) => {
                    host::log(
                        Level::Warn,
                        &format!("namespace {name:?} in the cache is not JSON: {e}"),
                    );
                    None
                }
            }
        });
        Ok(verdict)
    }
}

keel_sdk::export_admission!(NamespaceLifecycle);
