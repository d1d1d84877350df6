//! A ReplicaSet's status: Kubernetes' `calculateStatus` and `updateReplicaSetStatus`.
//!
//! Counted over the active pods the ReplicaSet owns, before this reconcile's creations and
//! deletions: `replicas`; `fullyLabeledReplicas` (pods carrying every label of the
//! template); `readyReplicas`; `availableReplicas` (ready for `minReadySeconds`);
//! `terminatingReplicas` (owned pods being deleted, when enabled); and `observedGeneration`
//! (`metadata.generation`). Other fields (conditions) are kept. The status is written only
//! when one of these differs.

use keel_sdk::controller::objects;
use keel_sdk::json::At;
use serde_json::{Map, Value, json};

/// What the status reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Active owned pods.
    pub replicas: usize,
    /// Active owned pods whose labels include all of the template's.
    pub fully_labeled: usize,
    /// Active owned pods that are ready.
    pub ready: usize,
    /// Active owned pods ready for at least `minReadySeconds`.
    pub available: usize,
    /// Owned pods being deleted (None: the field is not kept).
    pub terminating: Option<usize>,
}

impl Counts {
    /// Counts `owned` (active owned pods) against `template` at `now_millis`;
    /// `terminating` is passed through.
    pub fn of(
        owned: &[Value],
        terminating: Option<usize>,
        template: &Value,
        min_ready_seconds: u64,
        now_millis: u64,
    ) -> Counts {
        let template_labels = objects::labels(template);
        let fully_labeled = owned
            .iter()
            .filter(|pod| {
                let labels = objects::labels(pod);
                template_labels
                    .iter()
                    .all(|(key, value)| labels.get(key) == Some(value))
            })
            .count();
        let ready = owned.iter().filter(|p| objects::pod_is_ready(p)).count();
        let available = owned
            .iter()
            .filter(|p| objects::pod_is_available(p, min_ready_seconds, now_millis))
            .count();
        Counts {
            replicas: owned.len(),
            fully_labeled,
            ready,
            available,
            terminating,
        }
    }
}

/// Milliseconds until the first of `owned` that is ready but not yet available becomes
/// available (None: there is none).
pub fn next_availability(owned: &[Value], min_ready_seconds: u64, now_millis: u64) -> Option<u64> {
    owned
        .iter()
        .filter_map(|pod| objects::pod_available_in(pod, min_ready_seconds, now_millis))
        .min()
}

/// The status fields this controller owns, with the value each should have.
fn fields(counts: &Counts, generation: i64) -> [(&'static str, i64); 5] {
    let int = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    [
        ("replicas", int(counts.replicas)),
        ("fullyLabeledReplicas", int(counts.fully_labeled)),
        ("readyReplicas", int(counts.ready)),
        ("availableReplicas", int(counts.available)),
        ("observedGeneration", generation),
    ]
}

/// `rs` with its status set to `counts`, or None when it already says that.
pub fn updated(rs: &Value, counts: &Counts) -> Option<Value> {
    let generation = rs
        .at("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status = rs.get("status").and_then(Value::as_object);
    let current = |field: &str| status.and_then(|s| s.get(field)).and_then(Value::as_i64);
    let terminating = counts.terminating.and_then(|n| i64::try_from(n).ok());
    let unchanged = fields(counts, generation)
        .iter()
        .all(|(field, value)| current(field).unwrap_or(0) == *value)
        && current("terminatingReplicas") == terminating;
    if unchanged {
        return None;
    }
    let mut status: Map<String, Value> = status.cloned().unwrap_or_default();
    for (field, value) in fields(counts, generation) {
        // The API omits these int32 fields when zero (`omitempty`), all but `replicas`.
        if value == 0 && field != "replicas" {
            status.remove(field);
        } else {
            status.insert(field.into(), json!(value));
        }
    }
    match terminating {
        Some(n) => status.insert("terminatingReplicas".into(), json!(n)),
        None => status.remove("terminatingReplicas"),
    };
    let mut rs = rs.clone();
    if let Some(object) = rs.as_object_mut() {
        object.insert("status".into(), Value::Object(status));
    }
    Some(rs)
}

#[cfg(test)]
mod tests {
    use keel_sdk::controller::time;

    use super::*;

    const NOW: u64 = 1_767_225_600_000;

    fn pod(labels: Value, ready_seconds_ago: Option<u64>) -> Value {
        let conditions = match ready_seconds_ago {
            Some(ago) => json!([{"type": "Ready", "status": "True",
                                 "lastTransitionTime": time::format_rfc3339(NOW - ago * 1000)}]),
            None => json!([{"type": "Ready", "status": "False"}]),
        };
        json!({"metadata": {"labels": labels}, "status": {"conditions": conditions}})
    }

    /// calculateStatus: fully labeled pods carry every template label (more are fine);
    /// available pods have been ready for minReadySeconds.
    #[test]
    fn counts_follow_calculate_status() {
        let template = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        let owned = [
            pod(
                json!({"app": "web", "tier": "front", "extra": "1"}),
                Some(100),
            ),
            pod(json!({"app": "web"}), Some(5)),
            pod(json!({"app": "web", "tier": "front"}), None),
        ];
        let counts = Counts::of(&owned, Some(2), &template, 10, NOW);
        assert_eq!(
            counts,
            Counts {
                replicas: 3,
                fully_labeled: 2,
                ready: 2,
                available: 1,
                terminating: Some(2),
            }
        );
        assert_eq!(next_availability(&owned, 10, NOW), Some(5_000));
        assert_eq!(next_availability(&owned, 0, NOW), None);
    }

    /// updateReplicaSetStatus: nothing is written when the counts and observedGeneration
    /// already agree; conditions are kept; zero counts are omitted as the API does.
    #[test]
    fn status_is_written_only_when_it_changes() {
        let counts = Counts {
            replicas: 2,
            fully_labeled: 2,
            ready: 1,
            available: 0,
            terminating: Some(0),
        };
        let rs = json!({"metadata": {"generation": 3}, "status": {
            "replicas": 1, "availableReplicas": 1,
            "conditions": [{"type": "ReplicaFailure", "status": "True"}]}});
        let Some(new) = updated(&rs, &counts) else {
            panic!("the status should change");
        };
        assert_eq!(
            new["status"],
            json!({"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1,
                   "observedGeneration": 3, "terminatingReplicas": 0,
                   "conditions": [{"type": "ReplicaFailure", "status": "True"}]})
        );
        assert_eq!(updated(&new, &counts), None);
        let newer = json!({"metadata": {"generation": 4}, "status": new["status"].clone()});
        assert!(updated(&newer, &counts).is_some());
        let disabled = Counts {
            terminating: None,
            ..counts
        };
        let without = updated(&new, &disabled).unwrap_or_default();
        assert!(without["status"].get("terminatingReplicas").is_none());
    }

    #[test]
    fn a_missing_status_with_nothing_to_report_still_records_replicas_zero() {
        let counts = Counts {
            replicas: 0,
            fully_labeled: 0,
            ready: 0,
            available: 0,
            terminating: None,
        };
        assert_eq!(updated(&json!({"metadata": {}}), &counts), None);
        let new = updated(&json!({"metadata": {"generation": 1}}), &counts).unwrap_or_default();
        assert_eq!(
            new["status"],
            json!({"replicas": 0, "observedGeneration": 1})
        );
    }
}
