//! Namespace writes, as Kubernetes' PodSecurity admission treats them: level labels must name
//! a level (422 Invalid otherwise), and raising the enforce level warns about the existing
//! pods it would deny (what `kubectl label --dry-run=server` relies on).

use std::collections::BTreeSet;

use keel_sdk::json::At;
use serde_json::{Map, Value};

use keel_sdk::admission::Operation;

use crate::admission::{Decision, Denial, Request};
use crate::checks::{Pod, evaluate, reasons};
use crate::config::Config;
use crate::level::{LabelError, Level, policy};

/// At most this many existing pods are evaluated when the enforce level rises.
pub const MAX_PODS: usize = 3000;

fn labels(object: Option<&Value>) -> Option<&Map<String, Value>> {
    object?.at("/metadata/labels")?.as_object()
}

fn invalid(errors: &[LabelError]) -> Decision {
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let message = match messages.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    Decision {
        denial: Some(Denial::Invalid(message)),
        warnings: Vec::new(),
    }
}

/// A Namespace create or update. `pods` lists the namespace's pods; it is called only when
/// the enforce level rises.
pub fn review_namespace(
    request: &Request,
    config: &Config,
    pods: impl FnOnce() -> Vec<Value>,
) -> Decision {
    if request.subresource.is_some() {
        return Decision::allow();
    }
    let (new, errors) = policy(labels(request.object), config.defaults);
    match request.operation {
        Operation::Create if !errors.is_empty() => invalid(&errors),
        Operation::Update => {
            let (old, old_errors) = policy(labels(request.old_object), config.defaults);
            if !errors.is_empty() && (old_errors.is_empty() || errors != old_errors) {
                return invalid(&errors);
            }
            if new.enforce == Level::Privileged
                || new.enforce <= old.enforce
                || config.exemptions.namespace(request.name)
            {
                return Decision::allow();
            }
            Decision {
                denial: None,
                warnings: existing_pod_warnings(request.name, new.enforce, &pods(), config),
            }
        }
        _ => Decision::allow(),
    }
}

/// The controller that owns a pod (its `ownerReferences` entry with `controller: true`).
fn controller_uid(pod: &Value) -> Option<&str> {
    pod.at("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?
        .get("uid")?
        .as_str()
}

/// Pods in the order Kubernetes evaluates them: one per controller (and every uncontrolled
/// pod) first, then the other replicas; pods of exempt runtime classes left out.
fn prioritized<'a>(pods: &'a [Value], config: &Config) -> Vec<&'a Value> {
    let mut first = Vec::new();
    let mut rest = Vec::new();
    let mut seen = BTreeSet::new();
    for pod in pods {
        let spec = pod.get("spec").unwrap_or(&Value::Null);
        if config.exemptions.runtime_class(spec) {
            continue;
        }
        match controller_uid(pod) {
            Some(uid) if !seen.insert(uid) => rest.push(pod),
            _ => first.push(pod),
        }
    }
    first.extend(rest);
    first
}

/// The warnings for existing pods that `level` would deny, grouped by what they violate:
/// `web-1 (and 2 other pods): privileged, hostPort`.
pub fn existing_pod_warnings(
    namespace: &str,
    level: Level,
    pods: &[Value],
    config: &Config,
) -> Vec<String> {
    let pods = prioritized(pods, config);
    let total = pods.len();
    // Each distinct list of reasons, with the first pod name (alphabetically) and a count.
    let mut groups: Vec<(String, String, usize)> = Vec::new();
    for pod in pods.iter().take(MAX_PODS) {
        let violations = evaluate(level, &Pod::of(pod));
        if violations.is_empty() {
            continue;
        }
        let key = reasons(&violations);
        let name = pod
            .at("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, first, count)) => {
                *count += 1;
                if name < first.as_str() {
                    *first = name.to_string();
                }
            }
            None => groups.push((key, name.to_string(), 1)),
        }
    }
    let mut warnings = Vec::new();
    let checked = total.min(MAX_PODS);
    if checked < total {
        warnings.push(format!(
            "new PodSecurity enforce level only checked against the first {checked} of {total} existing pods"
        ));
    }
    if !groups.is_empty() {
        warnings.push(format!(
            "existing pods in namespace {namespace:?} violate the new PodSecurity enforce level {:?}",
            level.versioned()
        ));
    }
    let mut decorated: Vec<String> = groups
        .into_iter()
        .map(|(reasons, name, count)| match count {
            1 => format!("{name}: {reasons}"),
            2 => format!("{name} (and 1 other pod): {reasons}"),
            n => format!("{name} (and {} other pods): {reasons}", n - 1),
        })
        .collect();
    decorated.sort();
    warnings.extend(decorated);
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn namespace(enforce: &str) -> Value {
        json!({"metadata": {"name": "team", "labels": {"pod-security.kubernetes.io/enforce": enforce}}})
    }

    fn request<'a>(operation: Operation, object: &'a Value, old: Option<&'a Value>) -> Request<'a> {
        Request {
            operation,
            subresource: None,
            namespace: "",
            name: "team",
            username: "admin",
            object: Some(object),
            old_object: old,
        }
    }

    fn pod(name: &str, sc: Value) -> Value {
        json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "securityContext": sc}]}})
    }

    #[test]
    fn level_labels_must_be_levels() {
        let bad = namespace("strict");
        let d = review_namespace(
            &request(Operation::Create, &bad, None),
            &Config::default(),
            Vec::new,
        );
        assert_eq!(
            d.denial,
            Some(Denial::Invalid("metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted".into()))
        );
        let good = namespace("baseline");
        assert_eq!(
            review_namespace(
                &request(Operation::Create, &good, None),
                &Config::default(),
                Vec::new
            ),
            Decision::allow()
        );
        let both = json!({"metadata": {"labels": {
            "pod-security.kubernetes.io/enforce": "x", "pod-security.kubernetes.io/warn": "y"}}});
        let d = review_namespace(
            &request(Operation::Create, &both, None),
            &Config::default(),
            Vec::new,
        );
        assert!(matches!(d.denial, Some(Denial::Invalid(m)) if m.starts_with("[metadata.labels[")));
    }

    #[test]
    fn an_unchanged_bad_label_does_not_block_updates() {
        let bad = namespace("strict");
        let d = review_namespace(
            &request(Operation::Update, &bad, Some(&bad)),
            &Config::default(),
            Vec::new,
        );
        assert_eq!(d, Decision::allow());
        let good = namespace("baseline");
        let d = review_namespace(
            &request(Operation::Update, &bad, Some(&good)),
            &Config::default(),
            Vec::new,
        );
        assert!(d.denial.is_some());
    }

    #[test]
    fn raising_enforce_warns_about_existing_pods() {
        let old = namespace("privileged");
        let new = namespace("baseline");
        let pods = || {
            vec![
                pod("web-2", json!({"privileged": true})),
                pod("web-1", json!({"privileged": true})),
                pod("fine", json!({})),
                pod("db", json!({"privileged": true, "procMount": "Unmasked"})),
            ]
        };
        let d = review_namespace(
            &request(Operation::Update, &new, Some(&old)),
            &Config::default(),
            pods,
        );
        assert_eq!(d.denial, None);
        assert_eq!(
            d.warnings,
            vec![
                "existing pods in namespace \"team\" violate the new PodSecurity enforce level \"baseline:latest\"",
                "db: privileged, procMount",
                "web-1 (and 1 other pod): privileged",
            ]
        );
    }

    #[test]
    fn lowering_or_keeping_enforce_lists_nothing() {
        let restricted = namespace("restricted");
        let baseline = namespace("baseline");
        let never = || -> Vec<Value> { panic!("pods listed") };
        let d = review_namespace(
            &request(Operation::Update, &baseline, Some(&restricted)),
            &Config::default(),
            never,
        );
        assert_eq!(d, Decision::allow());
        let d = review_namespace(
            &request(Operation::Update, &baseline, Some(&baseline)),
            &Config::default(),
            never,
        );
        assert_eq!(d, Decision::allow());
        let mut config = Config::default();
        config.exemptions.namespaces = vec!["team".into()];
        let d = review_namespace(
            &request(Operation::Update, &restricted, Some(&baseline)),
            &config,
            never,
        );
        assert_eq!(d, Decision::allow());
    }

    #[test]
    fn replicas_of_one_controller_count_once_first() {
        let owned = |name: &str| {
            json!({"metadata": {"name": name, "ownerReferences": [{"uid": "rs-1", "controller": true}]},
                   "spec": {"hostPID": true, "containers": [{"name": "c"}]}})
        };
        let pods = vec![owned("a"), owned("b"), owned("c")];
        assert_eq!(prioritized(&pods, &Config::default()).len(), 3);
        let warnings = existing_pod_warnings("team", Level::Baseline, &pods, &Config::default());
        assert_eq!(warnings[1], "a (and 2 other pods): host namespaces");
    }
}
