//! Which pods a ReplicaSet owns: Kubernetes' `PodControllerRefManager.ClaimPods`.
//!
//! Of the namespace's active pods (`FilterActivePods` runs first, so finished and
//! terminating pods are neither adopted nor released):
//! - a pod whose controller reference names this ReplicaSet (by uid) is owned while the
//!   selector matches it, and is released (the reference removed) once it does not;
//! - a pod with no controller reference that the selector matches is adopted (a controller
//!   reference to this ReplicaSet added);
//! - a pod controlled by anything else is left alone.
//!
//! A ReplicaSet being deleted adopts and releases nothing; it still owns what it controls.

use keel_sdk::controller::{Action, objects};
use keel_sdk::json::At;
use keel_sdk::labels::Selector;
use serde_json::Value;

/// The `apiVersion` a ReplicaSet's controller references carry.
pub const API_VERSION: &str = "apps/v1";
/// The kind of the owner.
pub const KIND: &str = "ReplicaSet";

/// What claiming found.
#[derive(Debug, Default)]
pub struct Claim {
    /// The active pods the ReplicaSet owns, adopted ones included (as they will be once
    /// adopted), in name order.
    pub owned: Vec<Value>,
    /// The pod updates that adopt and release.
    pub actions: Vec<Action>,
}

/// Claims among `active_pods` (the namespace's active pods) for `rs`.
pub fn claim_pods(rs: &Value, selector: &Selector, active_pods: Vec<Value>) -> Claim {
    let rs_uid = objects::uid(rs);
    let namespace = objects::namespace(rs);
    let deleting = objects::is_deleting(rs);
    let mut claim = Claim::default();
    for pod in active_pods {
        if objects::namespace(&pod) != namespace {
            continue;
        }
        let matches = selector.matches(&objects::labels(&pod));
        match objects::controller_ref(&pod) {
            Some(owner) if owner.uid == rs_uid => {
                if matches {
                    claim.owned.push(pod);
                } else if !deleting {
                    let released = objects::without_owner_reference(pod, rs_uid);
                    claim.actions.push(Action::update(&released));
                }
            }
            Some(_) => {}
            None if matches && !deleting => {
                let adopted = adopt(rs, pod);
                claim.actions.push(Action::update(&adopted));
                claim.owned.push(adopted);
            }
            None => {}
        }
    }
    claim
        .owned
        .sort_by(|a, b| objects::name(a).cmp(objects::name(b)));
    claim
}

/// `pod` with a controller reference to `rs` (replacing a non-controller reference to it, as
/// the adoption patch merging `ownerReferences` by uid does).
fn adopt(rs: &Value, pod: Value) -> Value {
    let pod = objects::without_owner_reference(pod, objects::uid(rs));
    objects::with_owner_reference(pod, objects::controller_reference(API_VERSION, KIND, rs))
}

/// Whether `pod` is controlled by `rs` (`metav1.IsControlledBy`: the controller
/// reference's uid is the ReplicaSet's).
pub fn is_controlled_by(pod: &Value, rs: &Value) -> bool {
    objects::controller_ref(pod).is_some_and(|owner| owner.uid == objects::uid(rs))
}

/// How many of `pods` (the namespace's) are terminating (being deleted, not finished) and
/// claimed by `rs`: `FilterTerminatingPods` then `FilterClaimedPods`.
pub fn terminating_pods(rs: &Value, selector: &Selector, pods: &[Value]) -> usize {
    pods.iter()
        .filter(|pod| objects::is_deleting(pod))
        .filter(|pod| {
            !matches!(
                pod.at("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            )
        })
        .filter(|pod| is_controlled_by(pod, rs))
        .filter(|pod| selector.matches(&objects::labels(pod)))
        .count()
}
