//! The admission step of every write, as the verbs see it: the [`Admission`] trait the
//! kernel's admission chain implements (the registry knows nothing of plugins), what one
//! write asks it ([`Attempt`]) and what it answers ([`Admitted`]), and the per-request
//! context a write carries: who asks ([`UserInfo`]) and where warnings go ([`Warnings`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use super::Result;
use crate::object::ResourceType;

/// The operation a write performs, as admission names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A create.
    Create,
    /// An update, patch, or a subresource write.
    Update,
    /// A delete (marking an object with finalizers included).
    Delete,
}

impl Operation {
    /// `CREATE`, `UPDATE`, `DELETE`, as Kubernetes' admission rules spell them.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name.
    pub username: String,
    /// The groups the user is in.
    pub groups: Vec<String>,
}

impl Default for UserInfo {
    /// The cluster administrator: Keel serves its API to whoever holds the kubeconfig.
    fn default() -> Self {
        UserInfo {
            username: "system:admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }
}

/// Warnings for the client (`Warning` headers), collected while a request runs.
#[derive(Debug, Clone, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    /// Adds a warning; the same text twice is kept once.
    pub fn push(&self, warning: String) {
        let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !list.contains(&warning) {
            list.push(warning);
        }
    }

    /// The warnings so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// One write, as admission sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// What the write does.
    pub operation: Operation,
    /// The kind written.
    pub kind: &'static ResourceType,
    /// The namespace ("" for cluster-scoped kinds).
    pub namespace: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// `status`, `scale`, `binding`; none for the object itself.
    pub subresource: Option<&'static str>,
    /// The object after the write; none for a delete.
    pub object: Option<&'a Value>,
    /// The stored object; none for a create.
    pub old_object: Option<&'a Value>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// Who asks.
    pub user: &'a UserInfo,
    /// Where warnings go.
    pub warnings: &'a Warnings,
}

/// A status update to another object that must commit with the write (a ResourceQuota's
/// usage): `current` as the admission cache holds it, guarded by its resourceVersion.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The object's kind.
    pub kind: &'static ResourceType,
    /// The object as read.
    pub current: Value,
    /// Its new status.
    pub status: Value,
}

/// What admission answers for an allowed write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Admitted {
    /// The object as mutated, when a plugin changed it.
    pub object: Option<Value>,
    /// Status updates to commit with the write, all or nothing.
    pub status_updates: Vec<StatusUpdate>,
}

/// A future admission answers with.
pub type AdmitFuture<'a> = Pin<Box<dyn Future<Output = Result<Admitted>> + Send + 'a>>;

/// Decides every write before it is stored: mutates it, allows it, or denies it with the
/// error the client gets.
pub trait Admission: Send + Sync {
    /// Admits one write attempt. A denial is an `ApiError` carrying the code, reason and
    /// message the client sees.
    fn admit<'a>(&'a self, attempt: Attempt<'a>) -> AdmitFuture<'a>;
}
