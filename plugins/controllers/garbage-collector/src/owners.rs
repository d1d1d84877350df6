//! Classifying a dependent's owner references, as Kubernetes' `classifyReferences` does:
//! each owner is solid, dangling (gone, or re-created under a new uid) or waiting for its
//! dependents' deletion (being deleted in the foreground).

use keel_sdk::controller::View;
use keel_sdk::controller::objects::{self, OwnerReference};

use crate::config::Config;
use crate::finalizers;

/// What an owner reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// An owner that exists and keeps its dependents.
    Solid,
    /// No owner: absent, or present under another uid.
    Dangling,
    /// An owner being deleted with the `foregroundDeletion` finalizer.
    WaitingForDependents,
}

/// The state of the owner `reference` names, for a dependent in `namespace`.
///
/// Kubernetes confirms an absent owner with a live lookup; the view only holds managed kinds,
/// so an owner of a kind that is not managed is never looked up and counts as solid: the
/// collector never deletes an object because of an owner it cannot see.
pub fn classify(
    view: &dyn View,
    config: &Config,
    namespace: &str,
    reference: &OwnerReference,
) -> OwnerState {
    let group = reference.group();
    if !config.manages(group, &reference.kind) {
        return OwnerState::Solid;
    }
    match view.get(group, &reference.kind, namespace, &reference.name) {
        None => OwnerState::Dangling,
        Some(owner) if objects::uid(&owner) != reference.uid => OwnerState::Dangling,
        Some(owner)
            if objects::is_deleting(&owner)
                && finalizers::has(&owner, finalizers::FOREGROUND_DELETION) =>
        {
            OwnerState::WaitingForDependents
        }
        Some(_) => OwnerState::Solid,
    }
}
