//! An object together with the group and kind it was read as (an object's JSON alone does
//! not say its group reliably), and the edits the collector makes to its owner references.

use keel_sdk::controller::objects::{self, OwnerReference};
use keel_sdk::controller::{Action, Propagation};
use keel_sdk::json::At;
use serde_json::Value;

/// An object of a known group and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The API group ("" for core).
    pub group: String,
    /// The kind.
    pub kind: String,
    /// The object as the view holds it.
    pub object: Value,
}

impl Item {
    /// `object` of `kind` in `group`.
    pub fn new(group: &str, kind: &str, object: Value) -> Item {
        Item {
            group: group.into(),
            kind: kind.into(),
            object,
        }
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        objects::uid(&self.object)
    }

    /// `metadata.namespace` ("" when cluster-scoped).
    pub fn namespace(&self) -> &str {
        objects::namespace(&self.object)
    }

    /// Whether it is being deleted.
    pub fn is_deleting(&self) -> bool {
        objects::is_deleting(&self.object)
    }

    /// Its owner references.
    pub fn owner_references(&self) -> Vec<OwnerReference> {
        objects::owner_references(&self.object)
    }

    /// Whether one of its owner references names `owner_uid`.
    pub fn is_owned_by(&self, owner_uid: &str) -> bool {
        self.owner_references().iter().any(|r| r.uid == owner_uid)
    }

    /// Whether its reference to `owner_uid` blocks the owner's foreground deletion
    /// (`blockOwnerDeletion: true`).
    pub fn blocks(&self, owner_uid: &str) -> bool {
        self.owner_references()
            .iter()
            .any(|r| r.uid == owner_uid && r.block_owner_deletion == Some(true))
    }

    /// The update removing its references to `owner_uids` (an emptied list is dropped).
    pub fn remove_owners(&self, owner_uids: &[&str]) -> Action {
        let mut object = self.object.clone();
        for uid in owner_uids {
            object = objects::without_owner_reference(object, uid);
        }
        let emptied = object
            .at("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
        if emptied && let Some(Value::Object(metadata)) = object.get_mut("metadata") {
            metadata.remove("ownerReferences");
        }
        Action::update(&object)
    }

    /// The update setting `blockOwnerDeletion: false` on its blocking references, if it has
    /// any (Kubernetes' `unblockOwnerReferences`, which breaks a foreground-deletion cycle).
    pub fn unblock_owners(&self) -> Option<Action> {
        let mut object = self.object.clone();
        let refs = object
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)?;
        let mut changed = false;
        for reference in refs.iter_mut() {
            if reference.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true) {
                reference["blockOwnerDeletion"] = Value::Bool(false);
                changed = true;
            }
        }
        changed.then(|| Action::update(&object))
    }

    /// The delete of this object with `propagation`.
    pub fn delete(&self, propagation: Propagation) -> Action {
        Action::delete(&self.group, &self.kind, &self.object, Some(propagation))
    }
}
