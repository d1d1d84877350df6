//! The `spec` of a `keel.dev/v1alpha1` `Plugin` object: which contract it implements, its
//! module, configuration, limits, failure policy and where it applies (for admission
//! plugins, webhook-style `rules`, a `namespaceSelector`, and `validationActions`).

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
    /// Admission: which writes the plugin sees, as a webhook's `rules`; empty means every
    /// write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<AdmissionRule>,
    /// Admission: only objects in namespaces whose labels this `metav1.LabelSelector`
    /// matches (cluster-scoped objects always match); unset means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<serde_json::Value>,
    /// Admission: only writes in a namespace holding at least one object of one of these
    /// kinds, in the admission cache (LimitRanger needs a LimitRange to do anything); empty
    /// means every write. A kind the cache does not hold cannot be judged, so it counts as
    /// held and the plugin is called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_holds: Vec<KindRef>,
    /// Admission: what a denial does: `Deny` (answer the client with it) or `Warn` (allow,
    /// return it as a `Warning` header, and count it), as a ValidatingAdmissionPolicyBinding's
    /// `validationActions`. Empty means `[Deny]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_actions: Vec<ValidationAction>,
    /// Controller: which objects it reconciles, which it watches for them, what it reads
    /// and what it is granted to write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<ControllerSpec>,
}

/// A kind, by API group ("" for the core group) and kind name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindRef {
    /// API group; "" is the core group.
    #[serde(default)]
    pub group: String,
    /// `ReplicaSet`.
    pub kind: String,
}

/// What a controller plugin is for, in the manner of kube-runtime's `Controller::new(..)
/// .owns(..)`: the host watches and caches these kinds and maps their changes to keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerSpec {
    /// The kinds whose objects are keys: a change to one reconciles it.
    pub reconciles: Vec<KindRef>,
    /// Kinds whose changes reconcile the objects their `ownerReferences` name (of a
    /// `reconciles` kind): a ReplicaSet owns Pods.
    #[serde(default)]
    pub owns: Vec<KindRef>,
    /// An owned object with no controlling owner also reconciles every key in its
    /// namespace, so controllers can adopt orphans that match their selector.
    #[serde(default)]
    pub adopts_orphans: bool,
    /// A change to a reconciled object also reconciles the objects that name it as an
    /// owner (the garbage collector).
    #[serde(default)]
    pub enqueues_dependents: bool,
    /// Further kinds the plugin reads through its cache view.
    #[serde(default)]
    pub reads: Vec<KindRef>,
    /// The kinds it may create, update (object and status) and delete; any other write it
    /// answers with is refused.
    #[serde(default)]
    pub writes: Vec<KindRef>,
}

impl ControllerSpec {
    /// Every kind the host caches for the controller, once each.
    pub fn cached_kinds(&self) -> Vec<KindRef> {
        let mut kinds: Vec<KindRef> = self
            .reconciles
            .iter()
            .chain(&self.owns)
            .chain(&self.reads)
            .cloned()
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Whether it may write objects of `group`/`kind`.
    pub fn may_write(&self, group: &str, kind: &str) -> bool {
        self.writes
            .iter()
            .any(|k| k.group == group && k.kind == kind)
    }
}

/// Which writes an admission plugin sees: a write matches when its operation, API group
/// and resource are each listed (`*` matches anything; a resource is `pods`, or
/// `pods/status` for a subresource, and `*/*` matches every subresource).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRule {
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`, `*`.
    #[serde(default)]
    pub operations: Vec<String>,
    /// API groups ("" is the core group).
    #[serde(default)]
    pub api_groups: Vec<String>,
    /// Resources (plurals), with `/subresource` when one is meant.
    #[serde(default)]
    pub resources: Vec<String>,
}

impl AdmissionRule {
    /// Whether the rule covers a write of `operation` on `group`/`resource` (and
    /// `subresource`).
    pub fn matches(
        &self,
        operation: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
    ) -> bool {
        let any = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
        let resource_matches =
            self.resources
                .iter()
                .any(|r| match (r.split_once('/'), subresource) {
                    (None, None) => r == "*" || r == resource,
                    (Some((res, sub)), Some(want)) => {
                        (res == "*" || res == resource) && (sub == "*" || sub == want)
                    }
                    _ => false,
                });
        any(&self.operations, operation) && any(&self.api_groups, group) && resource_matches
    }
}

/// What an admission plugin's denial does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValidationAction {
    /// The write is refused with the plugin's denial.
    Deny,
    /// The write goes on; the denial becomes a warning to the client and is counted.
    Warn,
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
            rules: Vec::new(),
            namespace_selector: None,
            namespace_holds: Vec::new(),
            validation_actions: Vec::new(),
            controller: None,
        }
    }

    /// Parses and checks the `spec` of a Plugin object.
    pub fn from_object(object: &serde_json::Value) -> Result<PluginSpec, LoadError> {
        let spec = object.get("spec").cloned().unwrap_or_default();
        let spec: PluginSpec =
            serde_json::from_value(spec).map_err(|e| LoadError::Spec(e.to_string()))?;
        spec.limits.validate().map_err(LoadError::Spec)?;
        const OPERATIONS: [&str; 5] = ["CREATE", "UPDATE", "DELETE", "CONNECT", "*"];
        if let Some(bad) = spec
            .rules
            .iter()
            .flat_map(|r| &r.operations)
            .find(|op| !OPERATIONS.contains(&op.as_str()))
        {
            return Err(LoadError::Spec(format!(
                "rules: operation {bad:?} is not one of {}",
                OPERATIONS.join(", ")
            )));
        }
        match (&spec.controller, spec.plugin_type) {
            (None, PluginType::Controller) => {
                return Err(LoadError::Spec(
                    "a controller plugin needs spec.controller (reconciles, owns, reads, writes)"
                        .into(),
                ));
            }
            (Some(controller), PluginType::Controller) if controller.reconciles.is_empty() => {
                return Err(LoadError::Spec(
                    "spec.controller.reconciles names no kind".into(),
                ));
            }
            (Some(_), other) if other != PluginType::Controller => {
                return Err(LoadError::Spec(format!(
                    "spec.controller is for controller plugins, not {}",
                    other.interface()
                )));
            }
            _ => {}
        }
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

    /// Whether an admission plugin only warns (`validationActions: [Warn]`).
    pub fn warns_only(&self) -> bool {
        !self.validation_actions.is_empty()
            && !self.validation_actions.contains(&ValidationAction::Deny)
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
    fn admission_rules_match_like_webhook_rules() {
        let rule = AdmissionRule {
            operations: vec!["CREATE".into(), "UPDATE".into()],
            api_groups: vec!["".into()],
            resources: vec!["pods".into(), "pods/status".into()],
        };
        assert!(rule.matches("CREATE", "", "pods", None));
        assert!(rule.matches("UPDATE", "", "pods", Some("status")));
        assert!(!rule.matches("UPDATE", "", "pods", Some("binding")));
        assert!(!rule.matches("DELETE", "", "pods", None));
        assert!(!rule.matches("CREATE", "apps", "pods", None));
        assert!(!rule.matches("CREATE", "", "services", None));
        let everything = AdmissionRule {
            operations: vec!["*".into()],
            api_groups: vec!["*".into()],
            resources: vec!["*".into(), "*/*".into()],
        };
        assert!(everything.matches("DELETE", "apps", "deployments", Some("scale")));
        assert!(everything.matches("CREATE", "batch", "jobs", None));
    }

    #[test]
    fn warn_only_needs_warn_without_deny() {
        let digest = format!("sha256:{}", "b".repeat(64));
        let mut spec = PluginSpec::new(PluginType::Admission, digest.clone());
        assert!(!spec.warns_only());
        spec.validation_actions = vec![ValidationAction::Warn];
        assert!(spec.warns_only());
        spec.validation_actions = vec![ValidationAction::Warn, ValidationAction::Deny];
        assert!(!spec.warns_only());
        let bad_op = PluginSpec::from_object(&json!({"spec": {"type": "Admission",
            "module": digest, "rules": [{"operations": ["PATCH"]}]}}));
        assert!(matches!(bad_op, Err(LoadError::Spec(m)) if m.contains("PATCH")));
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
