//! create, update, patch, delete and deletecollection, each admitted (see
//! [`super::admission`]) before it is written.

use std::sync::Arc;

use serde_json::Value;

use super::admission::{Admitted, Attempt, Operation, StatusUpdate, UserInfo, Warnings};
use super::graceful;
use super::prepare::{self, Next, Part};
use super::{
    ApiError, ListOptions, MAX_ADMISSION_ROUNDS, MAX_RETRIES, MODIFIED, Objects, Result, key,
    key_namespace, outcome,
};
use crate::object::ResourceType;
use crate::object::meta::{finalizers, meta_str, resource_version};
use crate::object::patch::{self, PatchType};
use crate::store::{Command, Outcome};

/// Options every write takes: the request's context.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: check everything (admission included), store nothing.
    pub dry_run: bool,
    /// Who asks.
    pub user: UserInfo,
    /// Where admission's warnings go.
    pub warnings: Warnings,
    /// The subresource written through (`scale`, `binding`), when not the object or its
    /// `status` (which [`Part`] says).
    pub subresource: Option<&'static str>,
}

/// What a delete asks for (the `DeleteOptions` body and query).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Delete only if the object has this uid.
    pub uid: Option<String>,
    /// Delete only if the object is at this revision.
    pub resource_version: Option<u64>,
    /// What happens to the object's dependents (`propagationPolicy`); none: background.
    pub propagation: Option<Propagation>,
    /// `gracePeriodSeconds`: how long a pod's containers get to stop (none: the pod's own
    /// `terminationGracePeriodSeconds`).
    pub grace_period: Option<i64>,
    /// The request's context (`dryRun`, user, warnings).
    pub write: WriteOptions,
}

/// A delete's `propagationPolicy`: what happens to the objects that name the deleted one in
/// their `ownerReferences`. The garbage collector does the work; the API server only marks
/// the object with the finalizer that makes it wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// The object goes at once; its dependents are collected after.
    Background,
    /// The object stays, with the `foregroundDeletion` finalizer, until its blocking
    /// dependents are gone.
    Foreground,
    /// The object stays, with the `orphan` finalizer, until its dependents no longer name it.
    Orphan,
}

impl Propagation {
    /// Parses `Background`, `Foreground` or `Orphan`.
    pub fn parse(text: &str) -> Result<Propagation> {
        match text {
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            "Orphan" => Ok(Propagation::Orphan),
            other => Err(ApiError::BadRequest(format!(
                "invalid propagationPolicy {other:?}: supported values are \"Background\", \"Foreground\" and \"Orphan\""
            ))),
        }
    }

    /// The finalizer that holds the object while the garbage collector works.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some(FOREGROUND_FINALIZER),
            Propagation::Orphan => Some(ORPHAN_FINALIZER),
        }
    }
}

/// The finalizer of an object deleted with `propagationPolicy: Foreground`.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer of an object deleted with `propagationPolicy: Orphan`.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Parses a `resourceVersion` a client sent; empty means none.
pub fn parse_resource_version(v: Option<&str>) -> Result<Option<u64>> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::BadRequest(format!(
                "invalid resourceVersion {s:?}: not a revision this server issued"
            ))
        }),
    }
}

impl Objects {
    /// Creates an object.
    pub async fn create(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        body: Value,
        opts: WriteOptions,
    ) -> Result<Value> {
        let (mut prepared, generated) = prepare::for_create(rt, ns, body)?;
        let mut names_left = if generated { 8 } else { 1 };
        for _ in 0..MAX_ADMISSION_ROUNDS {
            let name = meta_str(&prepared, "name").unwrap_or_default().to_string();
            let key = key(rt, ns, &name);
            let admitted = self
                .admit(Attempt {
                    operation: Operation::Create,
                    kind: rt,
                    namespace: key_namespace(rt, ns),
                    name: &name,
                    subresource: None,
                    object: Some(&prepared),
                    old_object: None,
                    dry_run: opts.dry_run,
                    user: &opts.user,
                    warnings: &opts.warnings,
                })
                .await?;
            let obj = admitted.object.as_ref().unwrap_or(&prepared);
            if opts.dry_run {
                if self.store.get(&key)?.is_some() {
                    return Err(ApiError::AlreadyExists {
                        resource: rt.qualified_plural(),
                        name,
                    });
                }
                return Ok(obj.clone());
            }
            let command = Command::Create {
                key,
                object: obj.to_string(),
            };
            match self
                .store
                .write(with_status_updates(command, &admitted.status_updates)?)
                .await?
            {
                Outcome::AlreadyExists if generated && names_left > 1 => {
                    names_left -= 1;
                    prepare::regenerate_name(&mut prepared);
                }
                Outcome::Refused { .. } => {}
                out => return outcome(rt, &name, out).map(Arc::unwrap_or_clone),
            }
        }
        Err(ApiError::conflict(
            rt,
            meta_str(&prepared, "name").unwrap_or_default(),
            format!(
                "gave up after {MAX_ADMISSION_ROUNDS} rounds of admission and conflicting writes"
            ),
        ))
    }

    /// Replaces an object (or its status, with [`Part::Status`]).
    pub async fn update(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        part: Part,
        opts: WriteOptions,
    ) -> Result<Value> {
        if !body.is_object() {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            ));
        }
        match meta_str(&body, "name") {
            Some(n) if n != name => {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            _ => {}
        }
        prepare::check_namespace(rt, &mut body, ns)?;
        let precondition = parse_resource_version(meta_str(&body, "resourceVersion"))?;
        self.guaranteed_update(rt, ns, name, precondition, part, opts, |_| Ok(body.clone()))
            .await
            .map(Arc::unwrap_or_clone)
    }

    /// Patches an object (or its status).
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        kind: PatchType,
        patch_body: &Value,
        part: Part,
        opts: WriteOptions,
    ) -> Result<Value> {
        self.guaranteed_update(rt, ns, name, None, part, opts, |current| {
            let patched = patch::apply(kind, current, patch_body)
                .map_err(|m| ApiError::invalid(rt, name, "patch", m))?;
            // A resourceVersion in the patch is a precondition.
            let cur_rv = resource_version(current);
            let new_rv = parse_resource_version(meta_str(&patched, "resourceVersion"))?;
            if new_rv.is_some() && new_rv != cur_rv {
                return Err(ApiError::conflict(rt, name, MODIFIED));
            }
            if meta_str(&patched, "name") != Some(name) {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    "metadata.name",
                    "field is immutable",
                ));
            }
            Ok(patched)
        })
        .await
        .map(Arc::unwrap_or_clone)
    }

    /// Reads the object, lets `propose` derive the new one, and writes it
    /// guarded by the revision read; retries lost races unless the client
    /// gave its own precondition.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn guaranteed_update(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        precondition: Option<u64>,
        part: Part,
        opts: WriteOptions,
        propose: impl Fn(&Value) -> Result<Value>,
    ) -> Result<Arc<Value>> {
        for attempt in 0..MAX_RETRIES {
            let (revision, current) = self
                .current_for_write(rt, ns, name, attempt, |revision, _| {
                    precondition.is_none_or(|p| p == revision)
                })
                .await?;
            if precondition.is_some_and(|p| p != revision) {
                return Err(ApiError::conflict(rt, name, MODIFIED));
            }
            let proposed = propose(&current)?;
            let key = key(rt, ns, name);
            let next = prepare::for_update(rt, &current, proposed, part)?;
            let (Next::Update(preview) | Next::Delete(preview)) = &next;
            let admitted = self
                .admit(Attempt {
                    operation: Operation::Update,
                    kind: rt,
                    namespace: key_namespace(rt, ns),
                    name,
                    subresource: opts
                        .subresource
                        .or((part == Part::Status).then_some("status")),
                    object: Some(preview),
                    old_object: Some(&current),
                    dry_run: opts.dry_run,
                    user: &opts.user,
                    warnings: &opts.warnings,
                })
                .await?;
            let Admitted {
                object: mutated,
                status_updates,
            } = admitted;
            let (command, preview) = match next {
                Next::Update(obj) => {
                    let obj = mutated.unwrap_or(obj);
                    (
                        Command::Update {
                            key,
                            object: obj.to_string(),
                            expected_revision: Some(revision),
                        },
                        obj,
                    )
                }
                Next::Delete(obj) => (
                    Command::Delete {
                        key,
                        expected_revision: Some(revision),
                        expected_uid: None,
                    },
                    obj,
                ),
            };
            if opts.dry_run {
                return Ok(Arc::new(preview));
            }
            let command = with_status_updates(command, &status_updates)?;
            match self.store.write(command).await? {
                Outcome::Conflict { .. } if precondition.is_none() => continue,
                Outcome::Refused { .. } => continue,
                out => return outcome(rt, name, out),
            }
        }
        Err(ApiError::conflict(
            rt,
            name,
            format!("gave up after {MAX_RETRIES} conflicting writes"),
        ))
    }

    /// Deletes an object. An object with finalizers is marked (`deletionTimestamp`) and
    /// removed when the last finalizer goes; a pod running on a node is marked with its
    /// grace period ([`super::graceful`]) and removed by its node's agent.
    pub async fn delete(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value> {
        for attempt in 0..MAX_RETRIES {
            let (revision, current) = self
                .current_for_write(rt, ns, name, attempt, |revision, object| {
                    opts.uid
                        .as_deref()
                        .is_none_or(|u| Some(u) == meta_str(object, "uid"))
                        && opts.resource_version.is_none_or(|r| r == revision)
                })
                .await?;
            let uid = meta_str(&current, "uid").unwrap_or_default();
            if let Some(want) = opts.uid.as_deref().filter(|w| *w != uid) {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    format!(
                        "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
                    ),
                ));
            }
            if let Some(want) = opts.resource_version.filter(|w| *w != revision) {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    format!(
                        "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {revision}"
                    ),
                ));
            }
            let key = key(rt, ns, name);
            let collector_finalizer = opts.propagation.and_then(Propagation::finalizer);
            let grace = graceful::grace_period(rt, &current, opts.grace_period);
            let marked = current.pointer("/metadata/deletionTimestamp").is_some();
            let (command, preview) =
                if grace > 0 && (!marked || graceful::shortens(&current, grace)) {
                    let marked = prepare::mark_deleting(&current, collector_finalizer, grace);
                    (
                        Command::Update {
                            key,
                            object: marked.to_string(),
                            expected_revision: Some(revision),
                        },
                        marked,
                    )
                } else if grace > 0 {
                    return Ok(current);
                } else if finalizers(&current).is_empty() && collector_finalizer.is_none() {
                    (
                        Command::Delete {
                            key,
                            expected_revision: Some(revision),
                            expected_uid: None,
                        },
                        current.clone(),
                    )
                } else if marked {
                    return Ok(current);
                } else {
                    let marked = prepare::mark_deleting(&current, collector_finalizer, 0);
                    (
                        Command::Update {
                            key,
                            object: marked.to_string(),
                            expected_revision: Some(revision),
                        },
                        marked,
                    )
                };
            let admitted = self
                .admit(Attempt {
                    operation: Operation::Delete,
                    kind: rt,
                    namespace: key_namespace(rt, ns),
                    name,
                    subresource: None,
                    object: None,
                    old_object: Some(&current),
                    dry_run: opts.write.dry_run,
                    user: &opts.write.user,
                    warnings: &opts.write.warnings,
                })
                .await?;
            if opts.write.dry_run {
                return Ok(preview);
            }
            let command = with_status_updates(command, &admitted.status_updates)?;
            match self.store.write(command).await? {
                Outcome::Conflict { .. } | Outcome::NotFound
                    if opts.resource_version.is_none() && opts.uid.is_none() =>
                {
                    continue;
                }
                Outcome::Refused { .. } => continue,
                out => return outcome(rt, name, out).map(Arc::unwrap_or_clone),
            }
        }
        Err(ApiError::conflict(
            rt,
            name,
            format!("gave up after {MAX_RETRIES} conflicting writes"),
        ))
    }

    /// Deletes every object a list would return; answers what was deleted.
    pub async fn delete_collection(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Value>> {
        let page = self.list(
            rt,
            ns,
            &ListOptions {
                limit: None,
                continue_token: None,
                ..list.clone()
            },
        )?;
        let mut deleted = Vec::new();
        for item in page.items {
            let name = meta_str(&item, "name").unwrap_or_default().to_string();
            let item_ns = meta_str(&item, "namespace").map(str::to_string);
            match self.delete(rt, item_ns.as_deref(), &name, opts).await {
                Ok(v) => deleted.push(v),
                Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

impl Objects {
    /// Runs admission on one attempt; with no admission installed every write is allowed
    /// as it is.
    async fn admit(&self, attempt: Attempt<'_>) -> Result<Admitted> {
        match self.admission.get() {
            Some(admission) => admission.admit(attempt).await,
            None => Ok(Admitted::default()),
        }
    }
}

/// `command` with the status updates admission asked for: one atomic write, guarded by
/// the revision each updated object was read at.
fn with_status_updates(command: Command, updates: &[StatusUpdate]) -> Result<Command> {
    if updates.is_empty() {
        return Ok(command);
    }
    let mut commands = vec![command];
    for update in updates {
        let kind = update.kind;
        let name = meta_str(&update.current, "name").unwrap_or_default();
        let namespace = meta_str(&update.current, "namespace");
        let Some(revision) = resource_version(&update.current) else {
            return Err(ApiError::Internal(format!(
                "admission updated the status of {} {name:?}, read with no resourceVersion",
                kind.kind
            )));
        };
        let mut proposed = update.current.clone();
        if let Some(map) = proposed.as_object_mut() {
            map.insert("status".into(), update.status.clone());
        }
        let object = match prepare::for_update(kind, &update.current, proposed, Part::Status)? {
            Next::Update(object) | Next::Delete(object) => object,
        };
        commands.push(Command::Update {
            key: key(kind, namespace, name),
            object: object.to_string(),
            expected_revision: Some(revision),
        });
    }
    Ok(Command::Atomic { commands })
}
