//! The verbs on objects (get, list, create, update, patch, delete,
//! deletecollection, and the status, scale and binding subresources),
//! independent of HTTP. The API server and in-process clients both call
//! [`Objects`]; it turns each request into store commands under Kubernetes'
//! metadata rules and optimistic concurrency.

pub mod admission;
mod error;
pub mod graceful;
pub mod prepare;
mod read;
mod subresource;
pub use subresource::ScaleChange;
mod write;

pub use error::{ApiError, Result};
pub use prepare::Part;
pub use read::{ListOptions, ObjectList};
pub use write::{
    DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Propagation, WriteOptions,
    parse_resource_version as prepare_rv,
};

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::object::{Registry, ResourceType, object_key};
use crate::store::{Outcome, Store};
use admission::Admission;

/// How many times a write whose precondition the server chose is retried
/// after losing a race (as Kubernetes' GuaranteedUpdate does).
const MAX_RETRIES: usize = 16;

/// How many times a create is admitted again because a status update admission made with
/// it (a quota charge) lost a race: one round per write that won, so many clients racing
/// for one quota's last slots all get an answer.
const MAX_ADMISSION_ROUNDS: usize = 128;

/// The object verbs over one store.
#[derive(Clone)]
pub struct Objects {
    store: Store,
    kinds: Registry,
    admission: Arc<OnceLock<Arc<dyn Admission>>>,
}

impl Objects {
    /// The verbs over `store`, serving the built-in kinds, admitting every write once
    /// [`Objects::set_admission`] is called.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            kinds: Registry::default(),
            admission: Arc::new(OnceLock::new()),
        }
    }

    /// Installs the admission every later write passes through (once; a second call is
    /// refused and returns false).
    pub fn set_admission(&self, admission: Arc<dyn Admission>) -> bool {
        self.admission.set(admission).is_ok()
    }

    /// The admission every write passes through, once installed.
    pub fn admission(&self) -> Option<&Arc<dyn Admission>> {
        self.admission.get()
    }

    /// The kinds served.
    pub fn kinds(&self) -> &Registry {
        &self.kinds
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The namespace part of a key: empty for cluster-scoped kinds.
fn key_namespace<'a>(rt: &ResourceType, ns: Option<&'a str>) -> &'a str {
    if rt.namespaced { ns.unwrap_or("") } else { "" }
}

/// The store key of a named object.
fn key(rt: &ResourceType, ns: Option<&str>, name: &str) -> String {
    object_key(rt, key_namespace(rt, ns), name)
}

/// The message Kubernetes gives when a resourceVersion precondition fails.
pub const MODIFIED: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// Turns a store outcome into the stored object (shared with the watch event that announced
/// it) or the matching error.
fn outcome(rt: &ResourceType, name: &str, out: Outcome) -> Result<Arc<Value>> {
    match out {
        Outcome::Applied { object, .. } => Ok(object),
        Outcome::AlreadyExists => Err(ApiError::AlreadyExists {
            resource: rt.qualified_plural(),
            name: name.into(),
        }),
        Outcome::NotFound => Err(ApiError::not_found(rt, name)),
        Outcome::Conflict { reason, .. } if reason.starts_with("UID") => Err(ApiError::conflict(
            rt,
            name,
            format!("Precondition failed: {reason}"),
        )),
        Outcome::Conflict { .. } => Err(ApiError::conflict(rt, name, MODIFIED)),
        Outcome::Invalid(m) => Err(ApiError::BadRequest(m)),
        Outcome::Refused { key, .. } => Err(ApiError::conflict(
            rt,
            name,
            format!("{key}, written with it, changed concurrently"),
        )),
        Outcome::Nothing => Err(ApiError::Internal("the store applied no command".into())),
    }
}
