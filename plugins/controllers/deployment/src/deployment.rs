//! The fields of a Deployment the controller reads, with the defaults `apps/v1` gives them
//! (replicas 1, RollingUpdate with 25% surge and unavailability, revisionHistoryLimit 10,
//! progressDeadlineSeconds 600), and the two derived bounds `MaxSurge` and
//! `MaxUnavailable` of `deploymentutil`.

use std::collections::BTreeMap;

use keel_sdk::controller::{PluginError, objects};
use keel_sdk::json::At;
use keel_sdk::labels::Selector;
use serde_json::Value;

use crate::intstr::{IntOrPercent, resolve_fenceposts};

/// `math.MaxInt32`: a revisionHistoryLimit or progressDeadlineSeconds of this value means
/// "none" to Kubernetes.
const MAX_INT32: i64 = 2_147_483_647;

/// How a Deployment replaces its pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Scale every old ReplicaSet to zero, then scale the new one up.
    Recreate,
    /// Replace pods gradually within the (resolved) surge and unavailability bounds.
    RollingUpdate {
        /// Pods allowed above the desired count.
        max_surge: i64,
        /// Pods allowed to be unavailable below the desired count.
        max_unavailable: i64,
    },
}

/// A Deployment as the controller reads it.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The object as read from the cache.
    pub object: Value,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `spec.replicas`.
    pub replicas: i64,
    /// `spec.strategy`, resolved against `replicas`.
    pub strategy: Strategy,
    /// `spec.minReadySeconds`.
    pub min_ready_seconds: i64,
    /// `spec.revisionHistoryLimit` (None: keep every old ReplicaSet).
    pub revision_history_limit: Option<i64>,
    /// `spec.progressDeadlineSeconds` (None: progress is not estimated).
    pub progress_deadline_seconds: Option<i64>,
    /// `spec.paused`.
    pub paused: bool,
    /// `spec.selector`, parsed.
    pub selector: Selector,
    /// `spec.selector` as written.
    pub selector_json: Value,
    /// `spec.template`.
    pub template: Value,
    /// `status.collisionCount`.
    pub collision_count: Option<i64>,
}

impl Deployment {
    /// Reads `object`; an invalid or empty selector, one that does not select the
    /// template's labels, or an unknown strategy is an error (Kubernetes' validation
    /// refuses them, and a selector selecting everything is never acted on).
    pub fn read(object: Value) -> Result<Deployment, PluginError> {
        let int = |pointer: &str| object.at(pointer).and_then(Value::as_i64);
        let replicas = int("/spec/replicas").unwrap_or(1).max(0);
        let selector = objects::selector_at(&object, "/spec/selector")
            .map_err(|e| PluginError::new(format!("invalid label selector: {e}")))?;
        if selector.is_nothing() {
            return Err(PluginError::new("spec.selector: Required value"));
        }
        if selector.is_empty() {
            return Err(PluginError::new(
                "spec.selector: Invalid value: {}: empty selector is invalid for deployment \
                 (it would select all pods)",
            ));
        }
        let template = object.at("/spec/template").cloned().unwrap_or(Value::Null);
        let template_labels = objects::labels(&template);
        if !selector.matches(&template_labels) {
            return Err(PluginError::new(
                "spec.template.metadata.labels: Invalid value: `selector` does not match \
                 template `labels`",
            ));
        }
        let strategy = read_strategy(&object, replicas)?;
        let limit_or_none = |value: Option<i64>, default: i64| {
            let value = value.unwrap_or(default);
            (value != MAX_INT32).then_some(value.max(0))
        };
        Ok(Deployment {
            name: objects::name(&object).to_string(),
            namespace: objects::namespace(&object).to_string(),
            uid: objects::uid(&object).to_string(),
            generation: int("/metadata/generation").unwrap_or(0),
            replicas,
            strategy,
            min_ready_seconds: int("/spec/minReadySeconds").unwrap_or(0).max(0),
            revision_history_limit: limit_or_none(int("/spec/revisionHistoryLimit"), 10),
            progress_deadline_seconds: limit_or_none(int("/spec/progressDeadlineSeconds"), 600),
            paused: object
                .at("/spec/paused")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            selector,
            selector_json: object.at("/spec/selector").cloned().unwrap_or_default(),
            template,
            collision_count: int("/status/collisionCount"),
            object,
        })
    }

    /// `MaxSurge`: the resolved maxSurge of a rolling update, 0 for Recreate.
    pub fn max_surge(&self) -> i64 {
        match self.strategy {
            Strategy::RollingUpdate { max_surge, .. } => max_surge,
            Strategy::Recreate => 0,
        }
    }

    /// `MaxUnavailable`: the resolved maxUnavailable of a rolling update, at most the
    /// desired replicas; 0 for Recreate or zero replicas.
    pub fn max_unavailable(&self) -> i64 {
        match self.strategy {
            Strategy::RollingUpdate {
                max_unavailable, ..
            } if self.replicas > 0 => max_unavailable.min(self.replicas),
            _ => 0,
        }
    }

    /// Whether the strategy is RollingUpdate.
    pub fn is_rolling_update(&self) -> bool {
        matches!(self.strategy, Strategy::RollingUpdate { .. })
    }

    /// `metadata.annotations`.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        objects::annotations(&self.object)
    }
}

fn read_strategy(object: &Value, replicas: i64) -> Result<Strategy, PluginError> {
    let kind = object
        .at("/spec/strategy/type")
        .and_then(Value::as_str)
        .unwrap_or("RollingUpdate");
    match kind {
        "Recreate" => Ok(Strategy::Recreate),
        "RollingUpdate" => {
            let quarter = IntOrPercent::Percent(25);
            let surge = IntOrPercent::read(
                object.at("/spec/strategy/rollingUpdate/maxSurge"),
                "spec.strategy.rollingUpdate.maxSurge",
                quarter,
            )?;
            let unavailable = IntOrPercent::read(
                object.at("/spec/strategy/rollingUpdate/maxUnavailable"),
                "spec.strategy.rollingUpdate.maxUnavailable",
                quarter,
            )?;
            let (max_surge, max_unavailable) = resolve_fenceposts(surge, unavailable, replicas);
            Ok(Strategy::RollingUpdate {
                max_surge,
                max_unavailable,
            })
        }
        other => Err(PluginError::new(format!(
            "deployment type {other:?} isn't supported"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(spec: Value) -> Result<Deployment, String> {
        Deployment::read(json!({"metadata": {"name": "web", "namespace": "ns"}, "spec": spec}))
            .map_err(|e| e.message)
    }

    fn web(extra: Value) -> Value {
        let mut spec = json!({
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}},
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        spec
    }

    /// apps/v1 defaults: replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10,
    /// progressDeadlineSeconds 600.
    #[test]
    fn apps_v1_defaults_apply() -> Result<(), String> {
        let d = deployment(web(json!({})))?;
        assert_eq!(d.replicas, 1);
        assert_eq!(d.revision_history_limit, Some(10));
        assert_eq!(d.progress_deadline_seconds, Some(600));
        // 25% of 1: surge rounds up to 1, unavailable down to 0.
        assert_eq!(d.max_surge(), 1);
        assert_eq!(d.max_unavailable(), 0);
        assert!(!d.paused);
        Ok(())
    }

    #[test]
    fn recreate_has_no_surge_and_no_unavailability() -> Result<(), String> {
        let d = deployment(web(
            json!({"replicas": 4, "strategy": {"type": "Recreate"}}),
        ))?;
        assert_eq!(d.strategy, Strategy::Recreate);
        assert_eq!((d.max_surge(), d.max_unavailable()), (0, 0));
        Ok(())
    }

    #[test]
    fn max_int32_means_no_limit() -> Result<(), String> {
        let d = deployment(web(json!({
            "revisionHistoryLimit": 2_147_483_647_i64,
            "progressDeadlineSeconds": 2_147_483_647_i64,
        })))?;
        assert_eq!(d.revision_history_limit, None);
        assert_eq!(d.progress_deadline_seconds, None);
        Ok(())
    }

    /// Kubernetes refuses to act on a selector selecting everything, and validation
    /// requires the selector to match the template's labels.
    #[test]
    fn empty_missing_or_mismatched_selectors_are_errors() {
        let everything =
            json!({"selector": {}, "template": {"metadata": {"labels": {"app": "web"}}}});
        assert!(deployment(everything).is_err());
        assert!(deployment(json!({"template": {}})).is_err());
        let mismatched = json!({
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "web"}}},
        });
        assert!(deployment(mismatched).is_err());
        let bad =
            web(json!({"selector": {"matchExpressions": [{"key": "app", "operator": "Gt"}]}}));
        assert!(deployment(bad).is_err());
        assert!(deployment(web(json!({"strategy": {"type": "BlueGreen"}}))).is_err());
    }
}
