//! Applying a controller's answer: each action becomes a registry verb (create, update,
//! status update, delete), guarded as the contract says (updates by the object's
//! `resourceVersion`, deletes by uid when given), and only for kinds the controller's
//! Plugin object grants.

use serde_json::Value;

use crate::object::ResourceType;
use crate::object::meta::meta_str;
use crate::plugin::ControllerSpec;
use crate::plugin::calls::{Action, Deletion, Propagation as ContractPropagation};
use crate::registry::admission::UserInfo;
use crate::registry::{ApiError, DeleteOptions, Objects, Part, Propagation, WriteOptions};

/// Why an action was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The API refused or lost the write (a conflict is the usual one: the key is
    /// reconciled again over fresher state).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The plugin answered with something that is not a write it may make.
    #[error("{0}")]
    Refused(String),
}

impl ActionError {
    /// Whether it is the ordinary outcome of optimistic concurrency (a conflict, or an
    /// object already created or already gone) rather than a fault.
    pub fn is_race(&self) -> bool {
        matches!(
            self,
            ActionError::Api(
                ApiError::Conflict { .. }
                    | ApiError::NotFound { .. }
                    | ApiError::AlreadyExists { .. }
            )
        )
    }
}

/// Applies actions for one controller.
#[derive(Clone)]
pub struct Applier {
    objects: Objects,
    spec: ControllerSpec,
    user: UserInfo,
}

impl Applier {
    /// An applier writing as `system:controller:<name>` within `spec`'s grants.
    pub fn new(objects: Objects, name: &str, spec: ControllerSpec) -> Applier {
        Applier {
            objects,
            spec,
            user: UserInfo {
                username: format!("system:controller:{name}"),
                groups: vec!["system:authenticated".into()],
            },
        }
    }

    fn options(&self) -> WriteOptions {
        WriteOptions {
            user: self.user.clone(),
            ..WriteOptions::default()
        }
    }

    /// Applies one action.
    pub async fn apply(&self, action: &Action) -> Result<(), ActionError> {
        match action {
            Action::Create(json) => {
                let object = parse(json)?;
                let kind = self.kind_of(&object)?;
                let namespace = meta_str(&object, "namespace").map(str::to_string);
                self.objects
                    .create(kind, namespace.as_deref(), object, self.options())
                    .await?;
            }
            Action::Update(json) | Action::UpdateStatus(json) => {
                let part = match action {
                    Action::UpdateStatus(_) => Part::Status,
                    _ => Part::Main,
                };
                let object = parse(json)?;
                let kind = self.kind_of(&object)?;
                if meta_str(&object, "resourceVersion").is_none_or(str::is_empty) {
                    return Err(ActionError::Refused(format!(
                        "an update of {} {:?} has no metadata.resourceVersion to guard it",
                        kind.kind,
                        meta_str(&object, "name").unwrap_or_default()
                    )));
                }
                let name = meta_str(&object, "name").unwrap_or_default().to_string();
                let namespace = meta_str(&object, "namespace").map(str::to_string);
                self.objects
                    .update(
                        kind,
                        namespace.as_deref(),
                        &name,
                        object,
                        part,
                        self.options(),
                    )
                    .await?;
            }
            Action::Delete(Deletion {
                target,
                uid,
                propagation,
            }) => {
                let kind = self.granted(&target.group, &target.kind)?;
                let namespace = Some(target.namespace.as_str()).filter(|ns| !ns.is_empty());
                let options = DeleteOptions {
                    uid: uid.clone(),
                    resource_version: None,
                    propagation: propagation.map(|p| match p {
                        ContractPropagation::Background => Propagation::Background,
                        ContractPropagation::Foreground => Propagation::Foreground,
                        ContractPropagation::Orphan => Propagation::Orphan,
                    }),
                    grace_period: None,
                    write: self.options(),
                };
                self.objects
                    .delete(kind, namespace, &target.name, &options)
                    .await?;
            }
        }
        Ok(())
    }

    /// The served kind of `object` (by `apiVersion` and `kind`), if granted.
    fn kind_of(&self, object: &Value) -> Result<&'static ResourceType, ActionError> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        self.granted(group, kind)?;
        self.objects
            .kinds()
            .by_kind(api_version, kind)
            .ok_or_else(|| {
                ActionError::Refused(format!(
                    "{api_version} {kind} is not a kind this server serves"
                ))
            })
    }

    /// The served kind `group`/`kind`, if the spec grants writing it.
    fn granted(&self, group: &str, kind: &str) -> Result<&'static ResourceType, ActionError> {
        if !self.spec.may_write(group, kind) {
            let qualified = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            return Err(ActionError::Refused(format!(
                "writing {qualified} is not granted by the Plugin's spec.controller.writes"
            )));
        }
        self.objects
            .kinds()
            .by_group_kind(group, kind)
            .ok_or_else(|| ActionError::Refused(format!("{kind} is not a kind this server serves")))
    }
}

fn parse(json: &str) -> Result<Value, ActionError> {
    serde_json::from_str(json)
        .map_err(|e| ActionError::Refused(format!("an action's object is not JSON: {e}")))
}
