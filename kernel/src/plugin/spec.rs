//! The `spec` of a `keel.dev/v1alpha1` `Plugin` object: which contract it implements, its
//! module, configuration, limits, failure policy and where it applies.

use serde::{Deserialize, Serialize};

use super::error::{CallError, LoadError};
use super::limits::Limits;

/// The plugin types, one per world of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PluginType {
    /// `scheduler-plugin`: filter and score.
    Scheduler,
    /// `admission-plugin`: mutate and validate.
    Admission,
    /// `controller-plugin`: reconcile.
    Controller,
    /// `network-plugin`: pod addresses.
    Network,
}

impl PluginType {
    /// The interface the type's world exports.
    pub fn interface(self) -> &'static str {
        match self {
            PluginType::Scheduler => "scheduler",
            PluginType::Admission => "admission",
            PluginType::Controller => "controller",
            PluginType::Network => "network",
        }
    }
}

/// What callers do when a call fails (trap, timeout, exhausted budget, bad answer, or an
/// error the plugin returns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailurePolicy {
    /// The failure fails the operation (an admission denial, a scheduling failure).
    #[default]
    Fail,
    /// The failure is logged and counted, and the operation goes on without the plugin.
    Ignore,
}

impl FailurePolicy {
    /// Applies the policy: `Ok(None)` for an ignored failure.
    pub fn apply<T>(self, result: Result<T, CallError>) -> Result<Option<T>, CallError> {
        match (result, self) {
            (Ok(answer), _) => Ok(Some(answer)),
            (Err(error), FailurePolicy::Ignore) => {
                tracing::warn!("{error} (ignored by failurePolicy Ignore)");
                Ok(None)
            }
            (Err(error), FailurePolicy::Fail) => Err(error),
        }
    }
}

/// A `Plugin` object's spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginSpec {
    /// Which contract world the module implements.
    #[serde(rename = "type")]
    pub plugin_type: PluginType,
    /// The module's content digest, `sha256:<hex>`.
    pub module: String,
    /// Configuration handed to the plugin through `host.config` (JSON).
    #[serde(default)]
    pub config: serde_json::Value,
    /// Limits on each call.
    #[serde(default)]
    pub limits: Limits,
    /// What callers do when a call fails.
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// Order among plugins of the same type (lower runs first).
    #[serde(default)]
    pub order: i32,
    /// Weight of a scheduler plugin's scores.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Namespaces the plugin applies to; empty means all.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

fn default_weight() -> u32 {
    1
}

impl PluginSpec {
    /// A spec for `module` (a `sha256:` digest) of `plugin_type`, with no configuration and
    /// the default limits, failure policy, order and weight.
    pub fn new(plugin_type: PluginType, module: String) -> PluginSpec {
        PluginSpec {
            plugin_type,
            module,
            config: serde_json::Value::Null,
            limits: Limits::default(),
            failure_policy: FailurePolicy::default(),
            order: 0,
            weight: default_weight(),
            namespaces: Vec::new(),
        }
    }

    /// Parses and checks the `spec` of a Plugin object.
    pub fn from_object(object: &serde_json::Value) -> Result<PluginSpec, LoadError> {
        let spec = object.get("spec").cloned().unwrap_or_default();
        let spec: PluginSpec =
            serde_json::from_value(spec).map_err(|e| LoadError::Spec(e.to_string()))?;
        spec.limits.validate().map_err(LoadError::Spec)?;
        let well_formed = spec
            .module
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if !well_formed {
            return Err(LoadError::Spec(format!(
                "module {:?} is not a sha256:<64 hex digits> digest",
                spec.module
            )));
        }
        Ok(spec)
    }

    /// Whether the plugin applies to objects in `namespace`.
    pub fn applies_to(&self, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::error::CallErrorKind;
    use serde_json::json;

    #[test]
    fn failure_policy_ignore_turns_a_failure_into_nothing() {
        let error = CallError {
            plugin: "p".into(),
            kind: CallErrorKind::StackOverflow,
        };
        assert_eq!(
            FailurePolicy::Ignore.apply::<u8>(Err(error.clone())),
            Ok(None)
        );
        assert_eq!(
            FailurePolicy::Fail.apply::<u8>(Err(error.clone())),
            Err(error)
        );
        assert_eq!(FailurePolicy::Fail.apply(Ok(3)), Ok(Some(3)));
    }

    #[test]
    fn spec_parses_with_defaults_and_rejects_bad_digests_and_limits() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let spec =
            PluginSpec::from_object(&json!({"spec": {"type": "Admission", "module": digest}}));
        let Ok(spec) = spec else { panic!("{spec:?}") };
        assert_eq!(
            spec,
            PluginSpec::new(PluginType::Admission, digest.clone()),
            "new() has the defaults parsing gives"
        );
        assert_eq!(
            (spec.plugin_type, spec.failure_policy, spec.weight),
            (PluginType::Admission, FailurePolicy::Fail, 1)
        );
        assert_eq!(spec.limits, Limits::default());
        assert!(spec.applies_to("anything"));

        let short = PluginSpec::from_object(
            &json!({"spec": {"type": "Admission", "module": "sha256:abc"}}),
        );
        assert!(matches!(short, Err(LoadError::Spec(m)) if m.contains("not a sha256")));
        let huge = PluginSpec::from_object(
            &json!({"spec": {"type": "Admission", "module": digest, "limits": {"memoryBytes": 1u64 << 40}}}),
        );
        assert!(matches!(huge, Err(LoadError::Spec(m)) if m.contains("memoryBytes")));
        let unknown =
            PluginSpec::from_object(&json!({"spec": {"type": "Gardening", "module": digest}}));
        assert!(matches!(unknown, Err(LoadError::Spec(_))));
    }
}
