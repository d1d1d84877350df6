//! The controller's configuration (all optional, camelCase), with Kubernetes' defaults.

use serde::Deserialize;

use keel_sdk::controller::{PluginError, parse_config};

/// The plugin's configuration.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Config {
    /// How long a node may go without a heartbeat before it is unreachable
    /// (kube-controller-manager's `--node-monitor-grace-period`).
    pub node_monitor_grace_period_seconds: u64,
    /// How long a pod without a toleration for the unreachable taint stays on an unreachable
    /// node (what Kubernetes' `DefaultTolerationSeconds` admission plugin gives it).
    pub default_toleration_seconds: i64,
    /// How often an unreachable node is looked at again, to see it recover or to evict pods
    /// bound to it since (kube-controller-manager's `--node-monitor-period`).
    pub node_monitor_period_seconds: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            node_monitor_grace_period_seconds: 40,
            default_toleration_seconds: 300,
            node_monitor_period_seconds: 5,
        }
    }
}

impl Config {
    /// Parses `spec.config` (`null` when unset: the defaults).
    pub fn parse(text: &str) -> Result<Config, PluginError> {
        let config: Option<Config> = parse_config(text)?;
        Ok(config.unwrap_or_default())
    }

    /// The grace period in milliseconds.
    pub fn grace_millis(&self) -> u64 {
        self.node_monitor_grace_period_seconds.saturating_mul(1000)
    }

    /// The monitor period in milliseconds (at least one).
    pub fn period_millis(&self) -> u64 {
        self.node_monitor_period_seconds.saturating_mul(1000).max(1)
    }
}
