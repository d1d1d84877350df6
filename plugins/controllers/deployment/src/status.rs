//! The Deployment's status from its ReplicaSets (`calculateStatus`): counts summed over
//! the ReplicaSets' status, `updatedReplicas` from the new one, `observedGeneration`, the
//! `Available` condition; and the counts' reading back for progress checks.
//!
//! Zero counts are left out, as the API's `omitempty` leaves them out.

use serde_json::{Map, Value, json};

use crate::conditions::{
    self, AVAILABLE, MINIMUM_REPLICAS_AVAILABLE, MINIMUM_REPLICAS_UNAVAILABLE,
};
use crate::plan::Plan;
use crate::replicasets::ReplicaSet;

/// The counts of a Deployment status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `observedGeneration`.
    pub observed_generation: i64,
    /// `replicas`: pods of every ReplicaSet.
    pub replicas: i64,
    /// `updatedReplicas`: pods of the new ReplicaSet.
    pub updated: i64,
    /// `readyReplicas`.
    pub ready: i64,
    /// `availableReplicas`.
    pub available: i64,
}

impl Counts {
    /// The counts of `status` (absent ones are 0).
    pub fn of(status: Option<&Value>) -> Counts {
        let int = |field: &str| {
            status
                .and_then(|s| s.get(field))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        Counts {
            observed_generation: int("observedGeneration"),
            replicas: int("replicas"),
            updated: int("updatedReplicas"),
            ready: int("readyReplicas"),
            available: int("availableReplicas"),
        }
    }
}

/// `calculateStatus`: replaces the working Deployment's status with the one its
/// ReplicaSets give, keeping its conditions and collision count, and sets `Available`.
pub fn calculate(plan: &mut Plan<'_>) {
    let d = plan.d;
    let sum = |count: fn(&ReplicaSet) -> i64| plan.rss.iter().map(count).sum::<i64>();
    let available = sum(ReplicaSet::available_replicas);
    let total = sum(ReplicaSet::replicas);
    let counts = [
        ("observedGeneration", d.generation),
        ("replicas", sum(ReplicaSet::status_replicas)),
        (
            "updatedReplicas",
            plan.new_rs().map_or(0, ReplicaSet::status_replicas),
        ),
        ("readyReplicas", sum(ReplicaSet::ready_replicas)),
        ("availableReplicas", available),
        ("unavailableReplicas", (total - available).max(0)),
    ];
    let mut status = Map::new();
    for (field, value) in counts {
        if value != 0 {
            status.insert(field.into(), json!(value));
        }
    }
    let previous = plan.status();
    if let Some(conditions) = previous.get("conditions").filter(|c| c.is_array()) {
        status.insert("conditions".into(), conditions.clone());
    }
    if let Some(count) = previous.get("collisionCount").filter(|c| !c.is_null()) {
        status.insert("collisionCount".into(), count.clone());
    }
    plan.set_status(Value::Object(status));
    if available >= d.replicas - d.max_unavailable() {
        let message = "Deployment has minimum availability.";
        conditions::set(plan, AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, message);
    } else {
        let message = "Deployment does not have minimum availability.";
        conditions::set(
            plan,
            AVAILABLE,
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            message,
        );
    }
}

/// `DeploymentComplete`: every desired pod is updated and available, no old pod is left,
/// and the status is of the current generation.
pub fn is_complete(plan: &Plan<'_>, counts: &Counts) -> bool {
    let replicas = plan.d.replicas;
    counts.updated == replicas
        && counts.replicas == replicas
        && counts.available == replicas
        && counts.observed_generation >= plan.d.generation
}

/// The counts of the working Deployment's status.
pub fn working_counts(plan: &Plan<'_>) -> Counts {
    Counts::of(Some(plan.status()))
}

/// The counts of the Deployment's status as read.
pub fn read_counts(plan: &Plan<'_>) -> Counts {
    Counts::of(plan.d.object.get("status"))
}
