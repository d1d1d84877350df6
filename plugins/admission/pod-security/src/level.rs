//! Pod Security levels and the policy a namespace asks for: its
//! `pod-security.kubernetes.io/<mode>` labels over the configured defaults, with Kubernetes'
//! fallbacks for bad values (enforce fails closed to restricted, warn fails open to
//! privileged). Versions are always `latest`; the `-version` labels are accepted and ignored.

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

/// A Pod Security Standard, least to most restrictive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Unrestricted.
    #[default]
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Current pod hardening best practice.
    Restricted,
}

impl Level {
    /// Reads a label value.
    pub fn parse(value: &str) -> Option<Level> {
        match value {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    /// The level with its (only) version, as messages name it: `restricted:latest`.
    pub fn versioned(self) -> String {
        format!("{self}:latest")
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        })
    }
}

/// The label choosing the level that denies violating pods.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// The label choosing the level that warns about violating pods and workloads.
pub const WARN_LABEL: &str = "pod-security.kubernetes.io/warn";
/// The audit label: validated, otherwise ignored (Keel keeps no audit log).
pub const AUDIT_LABEL: &str = "pod-security.kubernetes.io/audit";

/// The levels a namespace is held to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Violations are denied.
    pub enforce: Level,
    /// Violations are warned about.
    pub warn: Level,
}

impl Policy {
    /// Whether nothing is checked.
    pub fn fully_privileged(&self) -> bool {
        self.enforce == Level::Privileged && self.warn == Level::Privileged
    }
}

/// A level label whose value is not a level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelError {
    /// The label.
    pub label: &'static str,
    /// Its value.
    pub value: String,
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "metadata.labels[{}]: Invalid value: {:?}: must be one of privileged, baseline, restricted",
            self.label, self.value
        )
    }
}

/// The policy for a namespace with `labels`, over `defaults`, and the labels that could not
/// be read. An unreadable enforce label enforces restricted; an unreadable warn label warns
/// of nothing.
pub fn policy(labels: Option<&Map<String, Value>>, defaults: Policy) -> (Policy, Vec<LabelError>) {
    let mut policy = defaults;
    let mut errors = Vec::new();
    let mut read = |label: &'static str, fallback: Level| -> Option<Level> {
        let value = labels?.get(label)?;
        let text = value.as_str().unwrap_or_default();
        Some(Level::parse(text).unwrap_or_else(|| {
            errors.push(LabelError {
                label,
                value: text.to_string(),
            });
            fallback
        }))
    };
    if let Some(level) = read(ENFORCE_LABEL, Level::Restricted) {
        policy.enforce = level;
    }
    read(AUDIT_LABEL, Level::Privileged);
    if let Some(level) = read(WARN_LABEL, Level::Privileged) {
        policy.warn = level;
    }
    (policy, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn levels_parse_order_and_print() {
        assert_eq!(Level::parse("baseline"), Some(Level::Baseline));
        assert_eq!(Level::parse("Baseline"), None);
        assert!(Level::Privileged < Level::Baseline && Level::Baseline < Level::Restricted);
        assert_eq!(Level::Restricted.versioned(), "restricted:latest");
    }

    #[test]
    fn labels_override_defaults_and_versions_are_ignored() {
        let defaults = Policy {
            enforce: Level::Baseline,
            warn: Level::Restricted,
        };
        let l = labels(json!({
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "v1.25",
            "pod-security.kubernetes.io/warn-version": "latest"
        }));
        let (p, errs) = policy(Some(&l), defaults);
        assert!(errs.is_empty());
        assert_eq!(p.enforce, Level::Restricted);
        assert_eq!(p.warn, Level::Restricted);
        assert_eq!(policy(None, defaults), (defaults, vec![]));
        assert!(Policy::default().fully_privileged());
    }

    #[test]
    fn bad_values_fail_closed_for_enforce_and_open_for_warn() {
        let l = labels(json!({
            "pod-security.kubernetes.io/enforce": "strict",
            "pod-security.kubernetes.io/warn": "loud",
            "pod-security.kubernetes.io/audit": "quiet"
        }));
        let defaults = Policy {
            enforce: Level::Privileged,
            warn: Level::Baseline,
        };
        let (p, errs) = policy(Some(&l), defaults);
        assert_eq!(p.enforce, Level::Restricted);
        assert_eq!(p.warn, Level::Privileged);
        assert_eq!(
            errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted",
                "metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: \"quiet\": must be one of privileged, baseline, restricted",
                "metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: \"loud\": must be one of privileged, baseline, restricted",
            ]
        );
    }
}
