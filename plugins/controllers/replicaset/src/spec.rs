//! What a ReplicaSet asks for, read from its `spec`: the selector, the number of replicas,
//! `minReadySeconds` and the pod template.
//!
//! The API server's validation of `apps/v1` ReplicaSets (`ValidateReplicaSetSpec`) refuses a
//! missing or empty selector, one that does not match the template's labels, and negative
//! counts. The controller relies on those rules (a template its selector does not match
//! would have it create pods forever), so it refuses such a spec itself with an error rather
//! than act on it.

use keel_sdk::controller::{PluginError, objects};
use keel_sdk::json::At;
use keel_sdk::labels::Selector;
use serde_json::Value;

/// The parts of a ReplicaSet's spec the controller acts on.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// `spec.selector`: the pods it owns.
    pub selector: Selector,
    /// `spec.replicas` (1 when unset).
    pub replicas: usize,
    /// `spec.minReadySeconds` (0 when unset): how long a pod is ready before it is available.
    pub min_ready_seconds: u64,
    /// `spec.template` (null when unset).
    pub template: &'a Value,
}

impl<'a> Spec<'a> {
    /// Reads and checks `rs`'s spec.
    pub fn read(rs: &'a Value) -> Result<Spec<'a>, PluginError> {
        let selector = objects::selector_at(rs, "/spec/selector")
            .map_err(|e| PluginError::new(format!("invalid spec.selector: {e}")))?;
        if selector.is_nothing() {
            return Err(PluginError::new("spec.selector is required"));
        }
        if selector.is_empty() {
            return Err(PluginError::new(
                "spec.selector must not be empty (it would select every pod)",
            ));
        }
        let template = rs.at("/spec/template").unwrap_or(&Value::Null);
        if !selector.matches(&objects::labels(template)) {
            return Err(PluginError::new(
                "spec.selector does not match spec.template.metadata.labels",
            ));
        }
        let replicas = count_at(rs, "/spec/replicas", 1)?;
        let replicas = usize::try_from(replicas)
            .map_err(|_| PluginError::new("spec.replicas is too large"))?;
        let min_ready_seconds = count_at(rs, "/spec/minReadySeconds", 0)?;
        Ok(Spec {
            selector,
            replicas,
            min_ready_seconds,
            template,
        })
    }
}

/// The non-negative int32 at `pointer`, `default` when unset.
fn count_at(object: &Value, pointer: &str, default: u64) -> Result<u64, PluginError> {
    match object.at(pointer) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .filter(|n| *n <= i32::MAX as u64)
            .ok_or_else(|| {
                PluginError::new(format!(
                    "{} must be a non-negative 32-bit integer, not {value}",
                    pointer.trim_start_matches('/').replace('/', ".")
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rs(spec: Value) -> Value {
        json!({"metadata": {"name": "web"}, "spec": spec})
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web", "tier": "front"}}})
    }

    #[test]
    fn replicas_default_to_one_and_min_ready_seconds_to_zero() -> Result<(), PluginError> {
        let rs = rs(json!({"selector": {"matchLabels": {"app": "web"}}, "template": template()}));
        let spec = Spec::read(&rs)?;
        assert_eq!(spec.replicas, 1);
        assert_eq!(spec.min_ready_seconds, 0);
        assert_eq!(spec.template, &template());
        Ok(())
    }

    #[test]
    fn counts_are_read() -> Result<(), PluginError> {
        let rs = rs(
            json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(),
                          "replicas": 0, "minReadySeconds": 30}),
        );
        let spec = Spec::read(&rs)?;
        assert_eq!((spec.replicas, spec.min_ready_seconds), (0, 30));
        Ok(())
    }

    /// ValidateReplicaSetSpec: replicas and minReadySeconds are non-negative.
    #[test]
    fn negative_or_fractional_counts_are_refused() {
        for bad in [json!(-1), json!(1.5), json!("3"), json!(3_000_000_000_u64)] {
            let rs = rs(json!({"selector": {"matchLabels": {"app": "web"}},
                              "template": template(), "replicas": bad}));
            assert!(Spec::read(&rs).is_err(), "{bad}");
        }
        let rs = rs(json!({"selector": {"matchLabels": {"app": "web"}},
                          "template": template(), "minReadySeconds": -5}));
        assert!(Spec::read(&rs).is_err());
    }

    /// ValidateReplicaSetSpec: the selector is required, not empty, valid, and matches the
    /// template's labels.
    #[test]
    fn selectors_the_api_would_refuse_are_errors() {
        let cases = [
            json!({"template": template()}),
            json!({"selector": null, "template": template()}),
            json!({"selector": {}, "template": template()}),
            json!({"selector": {"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]},
                   "template": template()}),
            json!({"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": []}]},
                   "template": template()}),
            json!({"selector": {"matchLabels": "app=web"}, "template": template()}),
            json!({"selector": {"matchLabels": {"app": "db"}}, "template": template()}),
            json!({"selector": {"matchLabels": {"app": "web"}}}),
        ];
        for spec in cases {
            let rs = rs(spec.clone());
            assert!(Spec::read(&rs).is_err(), "{spec}");
        }
    }
}
