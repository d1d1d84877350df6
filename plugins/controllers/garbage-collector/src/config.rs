//! The collector's configuration: which kinds it searches for dependents and manages.

use serde::Deserialize;

use keel_sdk::controller::{PluginError, parse_config};

/// A kind the collector manages: its objects are searched for dependents, may be deleted
/// and updated, and an owner of this kind that the view lacks is gone.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ManagedKind {
    /// The API group ("" for core, `apps`, `batch`).
    #[serde(default)]
    pub group: String,
    /// `Pod`, `ReplicaSet`.
    pub kind: String,
}

impl ManagedKind {
    /// `kind` in `group`.
    pub fn new(group: &str, kind: &str) -> ManagedKind {
        ManagedKind {
            group: group.into(),
            kind: kind.into(),
        }
    }

    /// Whether it is `kind` in `group`.
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.group == group && self.kind == kind
    }
}

/// The plugin's configuration (`{"kinds": [{"group": "", "kind": "Pod"}, ...]}`).
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Config {
    /// The managed kinds.
    pub kinds: Vec<ManagedKind>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            kinds: default_kinds(),
        }
    }
}

impl Config {
    /// Parses `spec.config` (`null` when unset: the defaults).
    pub fn parse(text: &str) -> Result<Config, PluginError> {
        let config: Option<Config> = parse_config(text)?;
        Ok(config.unwrap_or_default())
    }

    /// Whether `kind` in `group` is managed.
    pub fn manages(&self, group: &str, kind: &str) -> bool {
        self.kinds.iter().any(|k| k.is(group, kind))
    }
}

/// The kinds managed when the configuration names none: the workloads and what they own.
pub fn default_kinds() -> Vec<ManagedKind> {
    [
        ("", "Pod"),
        ("apps", "ReplicaSet"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Service"),
        ("", "ServiceAccount"),
        ("", "PersistentVolumeClaim"),
        ("coordination.k8s.io", "Lease"),
        ("apps", "ControllerRevision"),
    ]
    .into_iter()
    .map(|(group, kind)| ManagedKind::new(group, kind))
    .collect()
}
