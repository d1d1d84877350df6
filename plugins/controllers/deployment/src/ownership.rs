//! Which ReplicaSets a Deployment owns, as `ClaimReplicaSets` decides: one whose
//! controller reference names the Deployment's uid is owned while the selector matches its
//! labels and released (the reference removed) when it stops matching; one with no
//! controller reference that the selector matches, in the same namespace and not being
//! deleted, is adopted (the Deployment added as its controller); one controlled by
//! anything else is left alone.

use keel_sdk::controller::objects;
use serde_json::Value;

use crate::deployment::Deployment;
use crate::replicasets::ReplicaSet;

/// The Deployment's ReplicaSets after claiming.
pub struct Claimed {
    /// Owned ReplicaSets (adopted ones carry the new reference in their working copy).
    pub owned: Vec<ReplicaSet>,
    /// Released ReplicaSets, without the Deployment's reference.
    pub released: Vec<Value>,
}

/// Claims among `replica_sets` (every ReplicaSet of the Deployment's namespace).
pub fn claim(d: &Deployment, replica_sets: Vec<Value>) -> Claimed {
    let mut claimed = Claimed {
        owned: Vec::new(),
        released: Vec::new(),
    };
    for object in replica_sets {
        let matches = d.selector.matches(&objects::labels(&object));
        match objects::controller_ref(&object) {
            Some(owner) if owner.uid != d.uid => {}
            Some(_) if matches => claimed.owned.push(ReplicaSet::read(object)),
            Some(_) => claimed
                .released
                .push(objects::without_owner_reference(object, &d.uid)),
            None => {
                if matches
                    && !objects::is_deleting(&object)
                    && objects::namespace(&object) == d.namespace
                {
                    let reference =
                        objects::controller_reference("apps/v1", "Deployment", &d.object);
                    let adopted = objects::with_owner_reference(object.clone(), reference);
                    claimed.owned.push(ReplicaSet {
                        original: Some(object),
                        object: adopted,
                    });
                }
            }
        }
    }
    claimed
}
