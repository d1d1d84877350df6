//! The Pod Security Standards' checks as one registry: which checks each level runs, in
//! Kubernetes' order (baseline checks, then restricted ones, each sorted by check ID, with
//! restricted checks replacing the baseline checks they tighten), and how their results read
//! (`reason (detail), reason (detail)`). The checks themselves are in [`baseline`] and
//! [`restricted`]; this module also holds the pod view and wording helpers they share.

pub mod baseline;
pub mod restricted;

use keel_sdk::json::At;
use serde_json::{Map, Value};

use crate::level::Level;

/// A pod as the checks see it: the metadata (for annotations) and spec of a Pod or of a
/// workload's pod template.
#[derive(Clone, Copy, Debug)]
pub struct Pod<'a> {
    /// `metadata`; `null` when absent.
    pub meta: &'a Value,
    /// `spec`; `null` when absent.
    pub spec: &'a Value,
}

impl<'a> Pod<'a> {
    /// A Pod object, or a pod template (both have `metadata` and `spec`).
    pub fn of(object: &'a Value) -> Pod<'a> {
        Pod {
            meta: object.get("metadata").unwrap_or(&Value::Null),
            spec: object.get("spec").unwrap_or(&Value::Null),
        }
    }

    /// Init containers, containers, then ephemeral containers, as Kubernetes visits them.
    pub fn containers(&self) -> impl Iterator<Item = &'a Value> + use<'a> {
        let spec = self.spec;
        ["initContainers", "containers", "ephemeralContainers"]
            .into_iter()
            .filter_map(move |field| spec.get(field).and_then(Value::as_array))
            .flatten()
    }

    /// The value at `pointer` under the pod's `securityContext`, unless absent or null.
    pub fn context(&self, pointer: &str) -> Option<&'a Value> {
        present(self.spec.get("securityContext")?.at(pointer))
    }

    /// The pod's annotations.
    pub fn annotations(&self) -> Option<&'a Map<String, Value>> {
        self.meta.get("annotations").and_then(Value::as_object)
    }

    /// Whether the pod declares a Windows OS (`spec.os.name`), which exempts it from the
    /// Linux-only restricted checks.
    pub fn is_windows(&self) -> bool {
        self.spec.at("/os/name").and_then(Value::as_str) == Some("windows")
    }
}

/// `value` unless it is absent or null.
pub fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// A container's name.
pub fn name(container: &Value) -> String {
    container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The value at `pointer` under a container's `securityContext`, unless absent or null.
pub fn context<'a>(container: &'a Value, pointer: &str) -> Option<&'a Value> {
    present(container.get("securityContext")?.at(pointer))
}

/// The strings of a JSON list.
pub fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `s` quoted as Go's `%q` quotes it.
pub fn quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `"a", "b"`.
pub fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| quote(s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `singular` for one, `plural` otherwise.
pub fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 { singular } else { plural }
}

/// `container "a"` / `containers "a", "b"`.
pub fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Why a pod fails one check: `reason (detail)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The check's short reason (`runAsNonRoot != true`).
    pub reason: String,
    /// Which fields of which containers, and what they must be.
    pub detail: String,
}

impl Violation {
    /// A violation of `reason`.
    pub fn new(reason: &str, detail: String) -> Violation {
        Violation {
            reason: reason.to_string(),
            detail,
        }
    }
}

/// One check of the standard.
pub struct Check {
    /// Kubernetes' check ID, which orders the checks.
    pub id: &'static str,
    /// The level that introduces it.
    pub level: Level,
    /// Baseline checks it replaces at the restricted level.
    pub overrides: &'static [&'static str],
    /// The check: a violation, or `None` when the pod passes.
    pub run: Run,
}

type Run = fn(&Pod) -> Option<Violation>;

/// A baseline check.
const fn base(id: &'static str, run: Run) -> Check {
    Check {
        id,
        level: Level::Baseline,
        overrides: &[],
        run,
    }
}

/// A restricted check, replacing the baseline checks `overrides`.
const fn strict(id: &'static str, overrides: &'static [&'static str], run: Run) -> Check {
    Check {
        id,
        level: Level::Restricted,
        overrides,
        run,
    }
}

/// Every check: baseline ones, then restricted ones, each sorted by ID.
pub const CHECKS: &[Check] = &[
    base("appArmorProfile", baseline::app_armor_profile),
    base("capabilities_baseline", baseline::capabilities),
    base("hostNamespaces", baseline::host_namespaces),
    base("hostPathVolumes", baseline::host_path_volumes),
    base("hostPorts", baseline::host_ports),
    base(
        "hostProbesAndHostLifecycle",
        baseline::host_probes_and_lifecycle,
    ),
    base("privileged", baseline::privileged),
    base("procMount", baseline::proc_mount),
    base("seLinuxOptions", baseline::se_linux_options),
    base("seccompProfile_baseline", baseline::seccomp_profile),
    base("sysctls", baseline::sysctls),
    base("windowsHostProcess", baseline::windows_host_process),
    strict(
        "allowPrivilegeEscalation",
        &[],
        restricted::allow_privilege_escalation,
    ),
    strict(
        "capabilities_restricted",
        &["capabilities_baseline"],
        restricted::capabilities,
    ),
    strict(
        "restrictedVolumes",
        &["hostPathVolumes"],
        restricted::volume_types,
    ),
    strict("runAsNonRoot", &[], restricted::run_as_non_root),
    strict("runAsUser", &[], restricted::run_as_user),
    strict(
        "seccompProfile_restricted",
        &["seccompProfile_baseline"],
        restricted::seccomp_profile,
    ),
];

/// The checks `level` runs, in order: those of its level and below (none for privileged),
/// less those a stricter check replaces.
pub fn checks_for(level: Level) -> Vec<&'static Check> {
    let included: Vec<&Check> = CHECKS.iter().filter(|c| c.level <= level).collect();
    let overridden: Vec<&str> = included
        .iter()
        .flat_map(|c| c.overrides.iter().copied())
        .collect();
    included
        .into_iter()
        .filter(|c| !overridden.contains(&c.id))
        .collect()
}

/// How `pod` violates `level`: empty when it complies.
pub fn evaluate(level: Level, pod: &Pod) -> Vec<Violation> {
    checks_for(level)
        .iter()
        .filter_map(|c| (c.run)(pod))
        .collect()
}

/// The violations as Kubernetes words them: `reason (detail), reason (detail)`.
pub fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| {
            if v.detail.is_empty() {
                v.reason.clone()
            } else {
                format!("{} ({})", v.reason, v.detail)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reasons alone, as the existing-pods warnings on a namespace change list them.
pub fn reasons(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.reason.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(level: Level) -> Vec<&'static str> {
        checks_for(level).iter().map(|c| c.id).collect()
    }

    #[test]
    fn privileged_runs_nothing() {
        assert!(ids(Level::Privileged).is_empty());
    }

    #[test]
    fn baseline_runs_the_baseline_checks_sorted() {
        let baseline = ids(Level::Baseline);
        assert_eq!(baseline.len(), 12);
        assert!(!baseline.contains(&"runAsNonRoot"));
        let mut sorted = baseline.clone();
        sorted.sort_unstable();
        assert_eq!(baseline, sorted);
    }

    #[test]
    fn restricted_replaces_the_checks_it_tightens() {
        let restricted = ids(Level::Restricted);
        for gone in [
            "capabilities_baseline",
            "seccompProfile_baseline",
            "hostPathVolumes",
        ] {
            assert!(!restricted.contains(&gone), "{gone}");
        }
        assert_eq!(restricted.len(), 15);
        assert_eq!(restricted.last(), Some(&"seccompProfile_restricted"));
    }

    #[test]
    fn the_default_pod_violates_restricted_in_kubernetes_words() {
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        assert!(evaluate(Level::Baseline, &Pod::of(&pod)).is_empty());
        assert_eq!(
            describe(&evaluate(Level::Restricted, &Pod::of(&pod))),
            "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        );
    }

    #[test]
    fn a_hardened_pod_passes_restricted() {
        let pod = json!({"spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "nginx", "securityContext": {
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
            }}]
        }});
        assert_eq!(evaluate(Level::Restricted, &Pod::of(&pod)), vec![]);
    }

    #[test]
    fn helpers_word_things_like_kubernetes() {
        assert_eq!(join_quote(&["a", "b"]), "\"a\", \"b\"");
        assert_eq!(containers_phrase(&["a"]), "container \"a\"");
        assert_eq!(containers_phrase(&["a", "b"]), "containers \"a\", \"b\"");
        assert_eq!(quote("x\"y"), "\"x\\\"y\"");
        let pod = json!({"spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}],
            "ephemeralContainers": [{"name": "e"}]}});
        let names: Vec<String> = Pod::of(&pod).containers().map(name).collect();
        assert_eq!(names, vec!["i", "c", "e"]);
        let v = [
            Violation::new("a", String::new()),
            Violation::new("b", "d".into()),
        ];
        assert_eq!(describe(&v), "a, b (d)");
        assert_eq!(reasons(&v), "a, b");
    }
}
