//! Whether a dependent goes (Kubernetes' `attemptToDeleteItem`): an object whose owners are
//! all gone is deleted; one whose owners are all gone or waiting for it is deleted in the
//! foreground; one with a solid owner only loses its references to the others.

use keel_sdk::controller::{Action, Propagation, View};

use crate::config::Config;
use crate::finalizers;
use crate::item::Item;
use crate::owners::{OwnerState, classify};
use crate::scope::Scope;

/// The actions that collect `item` or clean its owner references; `scope` holds the
/// objects that may depend on it (its namespace, or everywhere).
pub fn attempt_to_delete(
    view: &dyn View,
    config: &Config,
    item: &Item,
    scope: &Scope<'_>,
) -> Vec<Action> {
    // Being deleted is a one-way trip: the finalizer flows take it from here.
    if item.is_deleting() {
        return Vec::new();
    }
    let references = item.owner_references();
    if references.is_empty() {
        return Vec::new();
    }
    let states: Vec<OwnerState> = references
        .iter()
        .map(|reference| classify(view, config, item.namespace(), reference))
        .collect();
    let has = |wanted: OwnerState| states.contains(&wanted);
    if has(OwnerState::Solid) {
        let not_solid: Vec<&str> = references
            .iter()
            .zip(&states)
            .filter(|(_, state)| **state != OwnerState::Solid)
            .map(|(reference, _)| reference.uid.as_str())
            .collect();
        if not_solid.is_empty() {
            return Vec::new();
        }
        // A reference to an owner waiting for its dependents would hold it forever.
        return vec![item.remove_owners(&not_solid)];
    }
    let dependents = if has(OwnerState::WaitingForDependents) {
        scope.dependents_of(item.uid())
    } else {
        Vec::new()
    };
    if !dependents.is_empty() {
        // Kubernetes deletes an object with dependents of its own in the foreground, so the
        // owner waiting for it waits for them too; a leaf goes as its finalizers ask.
        let mut actions = Vec::new();
        let cycle = dependents.iter().any(|d| {
            d.is_deleting() && finalizers::has(&d.object, finalizers::FOREGROUND_DELETION)
        });
        if cycle {
            // One of its dependents waits for its own dependents: stop blocking the owners,
            // or a cycle of foreground deletions never ends.
            actions.extend(item.unblock_owners());
        }
        actions.push(item.delete(Propagation::Foreground));
        return actions;
    }
    vec![item.delete(propagation_asked_by(item))]
}

/// The propagation an orphaned object's own finalizers ask for (background by default).
fn propagation_asked_by(item: &Item) -> Propagation {
    if finalizers::has(&item.object, finalizers::ORPHAN) {
        Propagation::Orphan
    } else if finalizers::has(&item.object, finalizers::FOREGROUND_DELETION) {
        Propagation::Foreground
    } else {
        Propagation::Background
    }
}
