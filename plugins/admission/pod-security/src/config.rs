//! The plugin's configuration: default levels for namespaces without labels, and the
//! namespaces, users and runtime classes exempt from Pod Security (Kubernetes'
//! `PodSecurityConfiguration`, without audit and versions).

use serde::Deserialize;
use serde_json::Value;

use crate::level::Policy;

/// The configuration; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Levels for namespaces that set no label (default: privileged).
    pub defaults: Policy,
    /// What is not checked at all.
    pub exemptions: Exemptions,
}

/// Requests Pod Security lets through unchecked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Exemptions {
    /// Namespaces whose pods are not checked.
    pub namespaces: Vec<String>,
    /// Users whose requests are not checked.
    pub usernames: Vec<String>,
    /// Pods with one of these `spec.runtimeClassName`s are not checked.
    pub runtime_classes: Vec<String>,
}

impl Exemptions {
    /// Whether `namespace` is exempt.
    pub fn namespace(&self, namespace: &str) -> bool {
        !namespace.is_empty() && self.namespaces.iter().any(|n| n == namespace)
    }

    /// Whether `username` is exempt.
    pub fn user(&self, username: &str) -> bool {
        !username.is_empty() && self.usernames.iter().any(|u| u == username)
    }

    /// Whether a pod spec's runtime class is exempt.
    pub fn runtime_class(&self, spec: &Value) -> bool {
        let class = spec
            .get("runtimeClassName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        !class.is_empty() && self.runtime_classes.iter().any(|c| c == class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::level::Level;
    use serde_json::json;

    #[test]
    fn the_documented_configuration_parses() {
        let parsed: Result<Config, _> = serde_json::from_value(json!({
            "defaults": {"enforce": "baseline", "enforce-version": "latest", "warn": "restricted"},
            "exemptions": {"namespaces": ["kube-system"], "usernames": [], "runtimeClasses": ["kata"]}
        }));
        let Ok(config) = parsed else {
            panic!("configuration did not parse: {parsed:?}");
        };
        assert_eq!(config.defaults.enforce, Level::Baseline);
        assert_eq!(config.defaults.warn, Level::Restricted);
        assert!(config.exemptions.namespace("kube-system"));
        assert!(!config.exemptions.namespace("default"));
        assert!(!config.exemptions.namespace(""));
        assert!(
            config
                .exemptions
                .runtime_class(&json!({"runtimeClassName": "kata"}))
        );
        assert!(!config.exemptions.runtime_class(&json!({})));
    }

    #[test]
    fn unset_is_privileged_and_bad_levels_are_refused() {
        let parsed: Result<Option<Config>, _> = serde_json::from_str("null");
        assert_eq!(parsed.ok().flatten(), None);
        let parsed: Result<Config, _> = serde_json::from_value(json!({}));
        assert_eq!(parsed.ok(), Some(Config::default()));
        assert!(Config::default().defaults.fully_privileged());
        let bad: Result<Config, _> =
            serde_json::from_value(json!({"defaults": {"enforce": "strict"}}));
        assert!(bad.is_err());
        let users: Result<Config, _> =
            serde_json::from_value(json!({"exemptions": {"usernames": ["ci"]}}));
        assert!(users.is_ok_and(|c| c.exemptions.user("ci") && !c.exemptions.user("")));
    }
}
