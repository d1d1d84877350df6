//! Foreground deletion (an owner deleted with `propagationPolicy=Foreground`, Kubernetes'
//! `processDeletingDependentsItem`): its dependents are collected first, and its
//! `foregroundDeletion` finalizer goes once no dependent with `blockOwnerDeletion: true`
//! remains. Dependents that do not block are collected too, but not waited for.

use keel_sdk::controller::{Action, ReconcileResult, View};

use crate::attempt_delete::attempt_to_delete;
use crate::config::Config;
use crate::finalizers;
use crate::item::Item;
use crate::scope::Scope;

/// How long an owner waiting for blocking dependents waits before it looks again, should
/// no change to a dependent wake it first.
pub const RECHECK_MILLIS: u64 = 5_000;

/// Collects `owner`'s dependents in `scope` (each as its own reconcile would: deleted, or
/// released when another owner keeps it), and removes the finalizer when none blocks.
pub fn delete_dependents(
    view: &dyn View,
    config: &Config,
    owner: &Item,
    scope: &Scope<'_>,
) -> ReconcileResult {
    let uid = owner.uid();
    let dependents = scope.dependents_of(uid);
    let mut actions: Vec<Action> = dependents
        .iter()
        .flat_map(|dependent| attempt_to_delete(view, config, dependent, scope))
        .collect();
    if dependents.iter().any(|dependent| dependent.blocks(uid)) {
        return ReconcileResult::actions(actions).requeue_after(RECHECK_MILLIS);
    }
    actions.push(Action::update(&finalizers::without(
        owner.object.clone(),
        finalizers::FOREGROUND_DELETION,
    )));
    ReconcileResult::actions(actions)
}
