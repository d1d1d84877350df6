//! Orphaning (an owner deleted with `propagationPolicy=Orphan`, Kubernetes'
//! `attemptToOrphan`): its dependents lose their reference to it, then its `orphan`
//! finalizer goes so the API server can remove it.

use keel_sdk::controller::{Action, ReconcileResult};

use crate::finalizers;
use crate::item::Item;
use crate::scope::Scope;

/// Releases `owner`'s dependents and then its `orphan` finalizer, in one answer: the host
/// applies actions in order and drops the rest after a failure, so the finalizer only goes
/// once every dependent in `scope` was released.
pub fn orphan_dependents(owner: &Item, scope: &Scope<'_>) -> ReconcileResult {
    let uid = owner.uid();
    let mut actions: Vec<Action> = scope
        .dependents_of(uid)
        .into_iter()
        .map(|dependent| dependent.remove_owners(&[uid]))
        .collect();
    actions.push(Action::update(&finalizers::without(
        owner.object.clone(),
        finalizers::ORPHAN,
    )));
    ReconcileResult::actions(actions)
}
