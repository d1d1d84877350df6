//! The plugin's configuration (the `Plugin` object's `spec.config`).

use keel_sdk::controller::{PluginError, parse_config};
use serde::Deserialize;

/// kube-controller-manager's `BurstReplicas`: at most this many pods are created or deleted
/// in one sync of a ReplicaSet.
pub const DEFAULT_BURST_REPLICAS: usize = 500;

/// How the controller behaves; every field is optional.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The most pods one answer creates or deletes (kube-controller-manager's
    /// `BurstReplicas`, 500); the rest follow in the next reconcile.
    pub burst_replicas: usize,
    /// Whether `status.terminatingReplicas` is kept (Kubernetes' feature gate
    /// `DeploymentReplicaSetTerminatingReplicas`, beta and on by default since 1.35).
    pub status_terminating_replicas: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            burst_replicas: DEFAULT_BURST_REPLICAS,
            status_terminating_replicas: true,
        }
    }
}

impl Config {
    /// The configuration in `text` (JSON; `null` or nothing is the default).
    pub fn parse(text: &str) -> Result<Config, PluginError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let config: Option<Config> = parse_config(text)?;
        let config = config.unwrap_or_default();
        if config.burst_replicas == 0 {
            return Err(PluginError::new(
                "bad configuration: burstReplicas must be at least 1",
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_configurations_are_the_defaults() -> Result<(), PluginError> {
        assert_eq!(Config::parse("null")?, Config::default());
        assert_eq!(Config::parse("")?, Config::default());
        assert_eq!(Config::parse("{}")?, Config::default());
        assert_eq!(Config::default().burst_replicas, 500);
        assert!(Config::default().status_terminating_replicas);
        Ok(())
    }

    #[test]
    fn fields_are_camel_case_and_checked() -> Result<(), PluginError> {
        let config = Config::parse(r#"{"burstReplicas": 7, "statusTerminatingReplicas": false}"#)?;
        assert_eq!(config.burst_replicas, 7);
        assert!(!config.status_terminating_replicas);
        assert!(Config::parse(r#"{"burstReplicas": 0}"#).is_err());
        assert!(Config::parse(r#"{"burst_replicas": 7}"#).is_err());
        assert!(Config::parse(r#""fast""#).is_err());
        Ok(())
    }
}
