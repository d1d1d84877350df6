//! The annotations the Deployment controller keeps on ReplicaSets
//! (`deploymentutil.SetNewReplicaSetAnnotations` and `SetReplicasAnnotations`): the
//! revision (which `kubectl rollout history` and `undo` read), the revisions an RS had
//! before a rollback brought it back, the desired and maximum replicas at its last
//! scaling (which proportional scaling reads), and the Deployment's own annotations.

use std::collections::BTreeMap;

use serde_json::json;

use crate::replicasets::ReplicaSet;

/// `deployment.kubernetes.io/revision`.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// `deployment.kubernetes.io/revision-history`: the revisions an RS had before.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// `deployment.kubernetes.io/desired-replicas`.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `deployment.kubernetes.io/max-replicas`.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// `kubectl apply`'s record, never copied to ReplicaSets.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The `extensions/v1beta1` rollback request, never copied either.
const DEPRECATED_ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";

/// The longest `revision-history` value kept (`maxRevHistoryLengthInChars`).
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Whether the Deployment annotation `key` stays off its ReplicaSets.
fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED
            | REVISION
            | REVISION_HISTORY
            | DESIRED_REPLICAS
            | MAX_REPLICAS
            | DEPRECATED_ROLLBACK_TO
    )
}

/// Copies the Deployment's annotations (but the skipped ones) onto `rs`; whether any
/// changed.
pub fn copy_deployment_annotations(
    deployment: &BTreeMap<String, String>,
    rs: &mut ReplicaSet,
) -> bool {
    let mut changed = false;
    for (key, value) in deployment {
        if skip_copy(key) || rs.annotation(key) == Some(value.as_str()) {
            continue;
        }
        if let Some(annotations) = rs.annotations_mut() {
            annotations.insert(key.clone(), json!(value));
            changed = true;
        }
    }
    changed
}

/// `SetNewReplicaSetAnnotations`: the Deployment's annotations, and `new_revision` when
/// the RS has a lower one (the RS a rollback returns to keeps its earlier revisions in
/// `revision-history`); for an RS about to be created, the replica annotations too.
/// Whether anything changed.
pub fn set_new_replica_set_annotations(
    deployment: &BTreeMap<String, String>,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    desired: i64,
    max: i64,
) -> bool {
    let mut changed = copy_deployment_annotations(deployment, rs);
    let old_text = rs.annotation(REVISION).map(str::to_string);
    let old_revision = match &old_text {
        None => 0,
        Some(text) => match text.parse::<i64>() {
            Ok(revision) => revision,
            // Kubernetes leaves an RS with an unreadable revision alone.
            Err(_) => return changed,
        },
    };
    if old_revision < new_revision {
        let history = rs
            .annotation(REVISION_HISTORY)
            .unwrap_or_default()
            .to_string();
        if let Some(annotations) = rs.annotations_mut() {
            annotations.insert(REVISION.into(), json!(new_revision.to_string()));
            changed = true;
            if let Some(old_text) = old_text
                && let Some(history) = appended_history(&history, &old_text)
            {
                annotations.insert(REVISION_HISTORY.into(), json!(history));
            }
        }
    }
    if !exists && set_replicas_annotations(rs, desired, max) {
        changed = true;
    }
    changed
}

/// `history` with `revision` appended, dropping the oldest entries to stay within the
/// length limit (None: it cannot fit).
fn appended_history(history: &str, revision: &str) -> Option<String> {
    if history.is_empty() {
        return Some(revision.to_string());
    }
    let mut entries: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + revision.len() + 1;
    let mut start = 0;
    while total > MAX_REVISION_HISTORY_CHARS && start < entries.len() {
        total -= entries[start].len() + 1;
        start += 1;
    }
    if total > MAX_REVISION_HISTORY_CHARS {
        return None;
    }
    entries.drain(..start);
    entries.push(revision);
    Some(entries.join(","))
}

/// `ReplicasAnnotationsNeedUpdate`: whether the desired or max replicas annotations of
/// `rs` differ from `desired` and `max`.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i64, max: i64) -> bool {
    rs.annotation(DESIRED_REPLICAS) != Some(desired.to_string().as_str())
        || rs.annotation(MAX_REPLICAS) != Some(max.to_string().as_str())
}

/// `SetReplicasAnnotations`: sets them; whether they changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i64, max: i64) -> bool {
    if !replicas_annotations_need_update(rs, desired, max) {
        return false;
    }
    if let Some(annotations) = rs.annotations_mut() {
        annotations.insert(DESIRED_REPLICAS.into(), json!(desired.to_string()));
        annotations.insert(MAX_REPLICAS.into(), json!(max.to_string()));
    }
    true
}

/// The `desired-replicas` annotation, when it is a number.
pub fn desired_replicas(rs: &ReplicaSet) -> Option<i64> {
    rs.annotation(DESIRED_REPLICAS)?.parse().ok()
}

/// The `max-replicas` annotation, when it is a number.
pub fn max_replicas(rs: &ReplicaSet) -> Option<i64> {
    rs.annotation(MAX_REPLICAS)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn rs(annotations: Value) -> ReplicaSet {
        ReplicaSet::read(json!({"metadata": {"name": "a", "annotations": annotations}}))
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The Deployment's annotations are copied except kubectl's last-applied record and
    /// the controller's own.
    #[test]
    fn deployment_annotations_are_copied_but_the_skipped_ones() {
        let deployment = map(&[
            ("team", "a"),
            (LAST_APPLIED, "{}"),
            (REVISION, "7"),
            (DESIRED_REPLICAS, "9"),
        ]);
        let mut a = rs(json!({}));
        assert!(copy_deployment_annotations(&deployment, &mut a));
        assert_eq!(a.annotation("team"), Some("a"));
        assert_eq!(a.annotation(LAST_APPLIED), None);
        assert_eq!(a.annotation(REVISION), None);
        assert_eq!(a.annotation(DESIRED_REPLICAS), None);
        assert!(!copy_deployment_annotations(&deployment, &mut a));
    }

    /// A new RS gets the revision and the replica annotations.
    #[test]
    fn a_created_rs_gets_revision_and_replica_annotations() {
        let mut a = rs(json!({}));
        assert!(set_new_replica_set_annotations(
            &BTreeMap::new(),
            &mut a,
            1,
            false,
            3,
            4
        ));
        assert_eq!(a.annotation(REVISION), Some("1"));
        assert_eq!(a.annotation(DESIRED_REPLICAS), Some("3"));
        assert_eq!(a.annotation(MAX_REPLICAS), Some("4"));
        assert_eq!(a.annotation(REVISION_HISTORY), None);
    }

    /// Rollback: the RS brought back takes the next revision and remembers its old ones;
    /// a revision is never lowered.
    #[test]
    fn a_revision_only_goes_up_and_the_old_ones_are_remembered() {
        let mut a = rs(json!({REVISION: "2"}));
        assert!(set_new_replica_set_annotations(
            &BTreeMap::new(),
            &mut a,
            4,
            true,
            3,
            4
        ));
        assert_eq!(a.annotation(REVISION), Some("4"));
        assert_eq!(a.annotation(REVISION_HISTORY), Some("2"));
        assert_eq!(
            a.annotation(DESIRED_REPLICAS),
            None,
            "an existing RS gets them when scaled"
        );
        assert!(set_new_replica_set_annotations(
            &BTreeMap::new(),
            &mut a,
            6,
            true,
            3,
            4
        ));
        assert_eq!(a.annotation(REVISION_HISTORY), Some("2,4"));
        assert!(!set_new_replica_set_annotations(
            &BTreeMap::new(),
            &mut a,
            5,
            true,
            3,
            4
        ));
        assert_eq!(a.annotation(REVISION), Some("6"));
    }

    #[test]
    fn the_revision_history_stays_within_its_length() {
        let long = vec!["1234567890"; 182].join(",");
        assert_eq!(long.len(), 2001);
        let appended = appended_history(&long, "99").unwrap_or_default();
        assert!(appended.len() <= MAX_REVISION_HISTORY_CHARS);
        assert!(appended.ends_with(",99"));
    }
}
