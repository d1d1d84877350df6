//! How long a pod tolerates a `NoExecute` taint, as Kubernetes' taint eviction reads its
//! `spec.tolerations` (`ToleratesTaint`; the first toleration matching the taint counts).

use keel_sdk::json::At;
use serde_json::Value;

/// How long a pod may stay on a node with the taint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// A matching toleration without `tolerationSeconds`: for ever.
    Forever,
    /// This many seconds after the taint was added (never negative).
    Seconds(u64),
    /// No toleration matches.
    None,
}

fn field<'a>(object: &'a Value, name: &str) -> &'a str {
    object.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// Whether `toleration` tolerates the taint `key=value:effect` (Kubernetes'
/// `Toleration.ToleratesTaint`: an empty effect or key matches any; operator `Exists`
/// matches any value, `Equal` (the default) the same value).
pub fn tolerates(toleration: &Value, key: &str, value: &str, effect: &str) -> bool {
    let wanted_effect = field(toleration, "effect");
    if !wanted_effect.is_empty() && wanted_effect != effect {
        return false;
    }
    let wanted_key = field(toleration, "key");
    if !wanted_key.is_empty() && wanted_key != key {
        return false;
    }
    match field(toleration, "operator") {
        "" | "Equal" => field(toleration, "value") == value,
        "Exists" => true,
        _ => false,
    }
}

/// How long `pod` tolerates the taint `key=value:effect`.
pub fn tolerance(pod: &Value, key: &str, value: &str, effect: &str) -> Tolerance {
    let first = pod
        .at("/spec/tolerations")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|t| tolerates(t, key, value, effect)));
    let Some(toleration) = first else {
        return Tolerance::None;
    };
    match toleration.get("tolerationSeconds").and_then(Value::as_i64) {
        None => Tolerance::Forever,
        Some(seconds) => Tolerance::Seconds(u64::try_from(seconds).unwrap_or(0)),
    }
}
