//! What Pod Security decides for a write, as Kubernetes' PodSecurity admission does: Pods are
//! checked against the namespace's enforce level (denied on violation) and warn level
//! (warning); workloads' pod templates against the warn level only. Exempt namespaces, users
//! and runtime classes, status and other subresources, and pod updates that change no image
//! are let through unchecked.

use keel_sdk::json::At;
use serde_json::{Map, Value};

use keel_sdk::admission::Operation;
use keel_sdk::pods::PodAt;

use crate::checks::{Pod, describe, evaluate};
use crate::config::Config;
use crate::level::{Level, policy};

/// The parts of an admission request a decision reads.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Create, update, delete or connect.
    pub operation: Operation,
    /// `status`, `ephemeralcontainers`; none for the object itself.
    pub subresource: Option<&'a str>,
    /// The object's namespace.
    pub namespace: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// Who asks.
    pub username: &'a str,
    /// The object after the write.
    pub object: Option<&'a Value>,
    /// The object before the write.
    pub old_object: Option<&'a Value>,
}

/// Why a write is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// 403: the pod violates the enforced level.
    Forbidden(String),
    /// 422: a namespace's level labels are not levels.
    Invalid(String),
}

/// The answer for one write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Set when the write is refused.
    pub denial: Option<Denial>,
    /// Warnings for the client.
    pub warnings: Vec<String>,
}

impl Decision {
    /// Lets the write through.
    pub fn allow() -> Decision {
        Decision::default()
    }
}

/// What an object is to Pod Security.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A Pod: enforced and warned.
    Pod,
    /// A workload, holding its pod template where this says: warned only.
    Workload(PodAt),
    /// A Namespace: its labels are validated.
    Namespace,
    /// Anything else.
    Other,
}

/// The target an object of `kind` in API `group` is.
pub fn target(group: &str, kind: &str) -> Target {
    match (group, kind, PodAt::of(group, kind)) {
        ("", "Namespace", _) => Target::Namespace,
        (_, _, Some(PodAt::Pod)) => Target::Pod,
        (_, _, Some(at)) => Target::Workload(at),
        (_, _, None) => Target::Other,
    }
}

/// Pod subresources Pod Security evaluates: the pod itself, and ephemeral containers added
/// to it.
fn evaluated_pod_subresource(subresource: Option<&str>) -> bool {
    matches!(subresource, None | Some("ephemeralcontainers"))
}

fn writes(operation: Operation) -> bool {
    matches!(operation, Operation::Create | Operation::Update)
}

/// `would violate PodSecurity "restricted:latest": ...` when `pod` violates `level`.
fn warning(level: Level, pod: &Pod) -> Option<String> {
    let violations = evaluate(level, pod);
    (!violations.is_empty()).then(|| {
        format!(
            "would violate PodSecurity \"{}\": {}",
            level.versioned(),
            describe(&violations)
        )
    })
}

/// A Pod create or update. `labels` reads the namespace's labels (`None`: no namespace).
pub fn review_pod(
    request: &Request,
    config: &Config,
    labels: impl FnOnce() -> Option<Map<String, Value>>,
) -> Decision {
    if !writes(request.operation) || !evaluated_pod_subresource(request.subresource) {
        return Decision::allow();
    }
    let exemptions = &config.exemptions;
    if exemptions.namespace(request.namespace) || exemptions.user(request.username) {
        return Decision::allow();
    }
    let labels = labels();
    let (policy, errors) = policy(labels.as_ref(), config.defaults);
    if errors.is_empty() && policy.fully_privileged() {
        return Decision::allow();
    }
    let Some(object) = request.object else {
        return Decision::allow();
    };
    if matches!(request.operation, Operation::Update)
        && request
            .old_object
            .is_some_and(|old| !significant_update(object, old))
    {
        return Decision::allow();
    }
    let pod = Pod::of(object);
    if exemptions.runtime_class(pod.spec) {
        return Decision::allow();
    }
    let violations = evaluate(policy.enforce, &pod);
    if !violations.is_empty() {
        return Decision {
            denial: Some(Denial::Forbidden(format!(
                "violates PodSecurity \"{}\": {}",
                policy.enforce.versioned(),
                describe(&violations)
            ))),
            warnings: Vec::new(),
        };
    }
    let warnings = if policy.warn == policy.enforce {
        Vec::new()
    } else {
        warning(policy.warn, &pod).into_iter().collect()
    };
    Decision {
        denial: None,
        warnings,
    }
}

/// A workload create or update: its pod template (at `pointer`) against the warn level.
pub fn review_workload(
    request: &Request,
    pointer: &str,
    config: &Config,
    labels: impl FnOnce() -> Option<Map<String, Value>>,
) -> Decision {
    if !writes(request.operation) || request.subresource.is_some() {
        return Decision::allow();
    }
    let exemptions = &config.exemptions;
    if exemptions.namespace(request.namespace) || exemptions.user(request.username) {
        return Decision::allow();
    }
    let labels = labels();
    let (policy, errors) = policy(labels.as_ref(), config.defaults);
    if errors.is_empty() && policy.warn == Level::Privileged {
        return Decision::allow();
    }
    let Some(template) = request.object.and_then(|o| o.at(pointer)) else {
        return Decision::allow();
    };
    let pod = Pod::of(template);
    if exemptions.runtime_class(pod.spec) {
        return Decision::allow();
    }
    Decision {
        denial: None,
        warnings: warning(policy.warn, &pod).into_iter().collect(),
    }
}

fn images(spec: &Value, field: &str) -> Vec<Option<String>> {
    spec.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| c.get("image").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Whether a pod update can change what Pod Security sees (Kubernetes'
/// `isSignificantPodUpdate`): containers added or removed, an image changed, or an
/// ephemeral container added or changed. Other pod fields cannot change after creation.
pub fn significant_update(pod: &Value, old: &Value) -> bool {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    if images(spec, "containers") != images(old_spec, "containers")
        || images(spec, "initContainers") != images(old_spec, "initContainers")
    {
        return true;
    }
    let ephemeral = |s: &Value| -> Vec<(String, Option<String>)> {
        s.get("ephemeralContainers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let field = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
                (field("name").unwrap_or_default(), field("image"))
            })
            .collect()
    };
    let old_ephemeral = ephemeral(old_spec);
    ephemeral(spec)
        .iter()
        .any(|(name, image)| !old_ephemeral.iter().any(|(n, i)| n == name && i == image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::level::Policy;
    use serde_json::json;

    fn request<'a>(object: &'a Value) -> Request<'a> {
        Request {
            operation: Operation::Create,
            subresource: None,
            namespace: "team",
            name: "web",
            username: "alice",
            object: Some(object),
            old_object: None,
        }
    }

    fn ns(enforce: &str, warn: &str) -> Option<Map<String, Value>> {
        let mut labels = Map::new();
        if !enforce.is_empty() {
            labels.insert("pod-security.kubernetes.io/enforce".into(), json!(enforce));
        }
        if !warn.is_empty() {
            labels.insert("pod-security.kubernetes.io/warn".into(), json!(warn));
        }
        Some(labels)
    }

    fn plain_pod() -> Value {
        json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    }

    fn privileged_pod() -> Value {
        json!({"spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": true}}]}})
    }

    const RESTRICTED_DETAIL: &str = "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")";

    #[test]
    fn enforce_restricted_denies_a_plain_pod_with_kubernetes_wording() {
        let pod = plain_pod();
        let d = review_pod(&request(&pod), &Config::default(), || ns("restricted", ""));
        assert_eq!(
            d.denial,
            Some(Denial::Forbidden(format!(
                "violates PodSecurity \"restricted:latest\": {RESTRICTED_DETAIL}"
            )))
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn enforce_baseline_allows_a_plain_pod_and_denies_a_privileged_one() {
        let pod = plain_pod();
        assert_eq!(
            review_pod(&request(&pod), &Config::default(), || ns("baseline", "")),
            Decision::allow()
        );
        let bad = privileged_pod();
        let d = review_pod(&request(&bad), &Config::default(), || ns("baseline", ""));
        assert_eq!(
            d.denial,
            Some(Denial::Forbidden("violates PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)".into()))
        );
    }

    #[test]
    fn warn_adds_a_warning_and_allows() {
        let pod = plain_pod();
        let d = review_pod(&request(&pod), &Config::default(), || {
            ns("baseline", "restricted")
        });
        assert_eq!(d.denial, None);
        assert_eq!(
            d.warnings,
            vec![format!(
                "would violate PodSecurity \"restricted:latest\": {RESTRICTED_DETAIL}"
            )]
        );
    }

    #[test]
    fn defaults_apply_to_unlabelled_namespaces() {
        let config = Config {
            defaults: Policy {
                enforce: Level::Baseline,
                warn: Level::Restricted,
            },
            ..Config::default()
        };
        let bad = privileged_pod();
        assert!(
            review_pod(&request(&bad), &config, || None)
                .denial
                .is_some()
        );
        assert!(
            review_pod(&request(&bad), &Config::default(), || None)
                .denial
                .is_none()
        );
        let pod = plain_pod();
        assert_eq!(
            review_pod(&request(&pod), &config, || ns("", ""))
                .warnings
                .len(),
            1
        );
    }

    #[test]
    fn exemptions_skip_checks() {
        let bad = privileged_pod();
        let mut config = Config::default();
        config.exemptions.namespaces = vec!["team".into()];
        assert_eq!(
            review_pod(&request(&bad), &config, || ns("restricted", "")),
            Decision::allow()
        );
        let mut config = Config::default();
        config.exemptions.usernames = vec!["alice".into()];
        assert_eq!(
            review_pod(&request(&bad), &config, || ns("restricted", "")),
            Decision::allow()
        );
        let mut config = Config::default();
        config.exemptions.runtime_classes = vec!["kata".into()];
        let mut kata = bad.clone();
        kata["spec"]["runtimeClassName"] = json!("kata");
        assert_eq!(
            review_pod(&request(&kata), &config, || ns("restricted", "")),
            Decision::allow()
        );
        assert!(
            review_pod(&request(&bad), &config, || ns("restricted", ""))
                .denial
                .is_some()
        );
    }

    #[test]
    fn status_and_other_subresources_deletes_and_connects_are_not_checked() {
        let bad = privileged_pod();
        for sub in ["status", "binding", "exec", "eviction"] {
            let r = Request {
                subresource: Some(sub),
                ..request(&bad)
            };
            assert_eq!(
                review_pod(&r, &Config::default(), || ns("restricted", "")),
                Decision::allow(),
                "{sub}"
            );
        }
        let r = Request {
            subresource: Some("ephemeralcontainers"),
            operation: Operation::Update,
            ..request(&bad)
        };
        assert!(
            review_pod(&r, &Config::default(), || ns("restricted", ""))
                .denial
                .is_some()
        );
        for op in [Operation::Delete, Operation::Connect] {
            let r = Request {
                operation: op,
                ..request(&bad)
            };
            assert_eq!(
                review_pod(&r, &Config::default(), || ns("restricted", "")),
                Decision::allow()
            );
        }
    }

    #[test]
    fn updates_that_change_no_image_are_not_checked() {
        let bad = privileged_pod();
        let mut relabelled = bad.clone();
        relabelled["metadata"] = json!({"labels": {"x": "y"}});
        let r = Request {
            operation: Operation::Update,
            old_object: Some(&bad),
            ..request(&relabelled)
        };
        assert_eq!(
            review_pod(&r, &Config::default(), || ns("restricted", "")),
            Decision::allow()
        );
        let mut new_image = bad.clone();
        new_image["spec"]["containers"][0]["image"] = json!("nginx:2");
        let r = Request {
            operation: Operation::Update,
            old_object: Some(&bad),
            ..request(&new_image)
        };
        assert!(
            review_pod(&r, &Config::default(), || ns("restricted", ""))
                .denial
                .is_some()
        );
    }

    #[test]
    fn significant_updates() {
        let old = json!({"spec": {"containers": [{"name": "c", "image": "a"}]}});
        assert!(!significant_update(&old, &old));
        let added = json!({"spec": {"containers": [{"name": "c", "image": "a"}, {"name": "d", "image": "b"}]}});
        assert!(significant_update(&added, &old));
        let debug = json!({"spec": {"containers": [{"name": "c", "image": "a"}],
            "ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}});
        assert!(significant_update(&debug, &old));
        assert!(!significant_update(&debug, &debug));
    }

    #[test]
    fn invalid_labels_enforce_restricted() {
        let pod = plain_pod();
        let d = review_pod(&request(&pod), &Config::default(), || ns("strict", ""));
        assert!(
            matches!(d.denial, Some(Denial::Forbidden(m)) if m.starts_with("violates PodSecurity \"restricted:latest\""))
        );
    }

    #[test]
    fn workloads_get_warnings_never_denials() {
        let deployment = json!({"spec": {"template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": true}}]}}}});
        let d = review_workload(
            &request(&deployment),
            "/spec/template",
            &Config::default(),
            || ns("restricted", "baseline"),
        );
        assert_eq!(d.denial, None);
        assert_eq!(
            d.warnings,
            vec![
                "would violate PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)"
            ]
        );
        let d = review_workload(
            &request(&deployment),
            "/spec/template",
            &Config::default(),
            || ns("restricted", ""),
        );
        assert_eq!(d, Decision::allow());
        let r = Request {
            subresource: Some("scale"),
            ..request(&deployment)
        };
        assert_eq!(
            review_workload(&r, "/spec/template", &Config::default(), || ns(
                "", "baseline"
            )),
            Decision::allow()
        );
    }

    #[test]
    fn cron_job_templates_are_found() {
        assert_eq!(
            target("batch", "CronJob"),
            Target::Workload(PodAt::JobTemplate)
        );
        assert_eq!(
            PodAt::JobTemplate.template_pointer(),
            "/spec/jobTemplate/spec/template"
        );
        assert_eq!(
            target("apps", "Deployment"),
            Target::Workload(PodAt::Template)
        );
        assert_eq!(PodAt::Template.template_pointer(), "/spec/template");
        assert_eq!(target("", "Pod"), Target::Pod);
        assert_eq!(target("", "Namespace"), Target::Namespace);
        assert_eq!(target("", "ConfigMap"), Target::Other);
        assert_eq!(target("example.com", "Deployment"), Target::Other);
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostNetwork": true, "containers": [{"name": "c"}]}}}}}});
        let d = review_workload(
            &request(&cron),
            "/spec/jobTemplate/spec/template",
            &Config::default(),
            || ns("", "baseline"),
        );
        assert_eq!(
            d.warnings,
            vec![
                "would violate PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true)"
            ]
        );
    }
}
