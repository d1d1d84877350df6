//! Workloads and their pod templates: Deployment, ReplicaSet, StatefulSet, DaemonSet and
//! ReplicationController (replicas, a selector that matches the template's labels, restart
//! policy Always), Job and CronJob (restart policy OnFailure or Never, schedule), each
//! template's pod spec checked as a Pod's is, under `spec.template.spec`.

use keel_sdk::json::At;
use serde_json::{Map, Value};

use crate::field::{BadValue, FieldError, Path, forbidden, invalid, not_supported, required};
use crate::pod::{self, list, non_negative, str_at};
use crate::selector::{Selector, go_map, go_selector};

/// What a workload's selector matches, as Kubernetes' `LabelSelectorAsSelector` makes it.
enum Matcher {
    /// No selector: matches nothing.
    Nothing,
    /// A selector; an empty one matches everything and is not compared.
    Labels(Selector),
    /// A selector that cannot be built (an unknown operator).
    Broken,
}

fn spec_of(object: &Value) -> &Value {
    object.get("spec").unwrap_or(&Value::Null)
}

fn template_labels(template: &Value) -> Option<&Map<String, Value>> {
    template.at("/metadata/labels").and_then(Value::as_object)
}

/// The selector of an apps/v1 workload: required, and not empty.
fn apps_selector(spec: &Value, path: &Path, what: &str, errs: &mut Vec<FieldError>) -> Matcher {
    let sel_path = path.child("selector");
    let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) else {
        errs.push(required(sel_path, ""));
        return Matcher::Nothing;
    };
    let parsed = Selector::parse(selector, &sel_path, errs);
    let count = |key: &str| {
        selector.get(key).map_or(0, |v| {
            v.as_object().map_or(0, Map::len) + v.as_array().map_or(0, Vec::len)
        })
    };
    if count("matchLabels") + count("matchExpressions") == 0 {
        errs.push(invalid(
            sel_path,
            BadValue::Raw(go_selector(selector)),
            &format!("empty selector is invalid for {what}"),
        ));
    }
    parsed.map_or(Matcher::Broken, Matcher::Labels)
}

/// `` `selector` does not match template `labels` `` when `matcher` rejects the template.
fn check_match(matcher: &Matcher, template: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let labels = template_labels(template);
    let matches = match matcher {
        Matcher::Nothing => false,
        Matcher::Labels(s) => s.is_empty() || s.matches(labels),
        Matcher::Broken => true,
    };
    if !matches {
        errs.push(invalid(
            path.child("metadata").child("labels"),
            BadValue::Raw(go_map(labels)),
            "`selector` does not match template `labels`",
        ));
    }
}

/// `ValidatePodTemplateSpec`: the pod spec under `path.spec`, without ephemeral containers.
fn validate_template(
    template: &Value,
    path: &Path,
    claim_volumes: &[String],
    errs: &mut Vec<FieldError>,
) {
    let spec = template.get("spec").unwrap_or(&Value::Null);
    let spec_path = path.child("spec");
    pod::validate_pod_spec(spec, &spec_path, claim_volumes, errs);
    if !list(spec, "ephemeralContainers").is_empty() {
        errs.push(forbidden(
            spec_path.child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// A template's restart policy; unset is Always, as Kubernetes defaults it.
fn restart_policy(template: &Value) -> &str {
    match template.at("/spec/restartPolicy").and_then(Value::as_str) {
        None | Some("") => "Always",
        Some(p) => p,
    }
}

/// What a long-running workload demands of its template: restart policy Always, no
/// `activeDeadlineSeconds`.
fn always_running(template: &Value, path: &Path, owner: &str, errs: &mut Vec<FieldError>) {
    let policy = restart_policy(template);
    if policy != "Always" {
        errs.push(not_supported(
            path.child("spec").child("restartPolicy"),
            BadValue::Str(policy.into()),
            &["Always"],
        ));
    }
    if template
        .at("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(forbidden(
            path.child("spec").child("activeDeadlineSeconds"),
            &format!("activeDeadlineSeconds in {owner} is not Supported"),
        ));
    }
}

/// Deployment and ReplicaSet (`ValidateDeploymentSpec`, `ValidateReplicaSetSpec`).
fn replica_set_like(object: &Value, what: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = spec_of(object);
    let path = Path::new("spec");
    non_negative(spec, "replicas", &path, &mut errs);
    non_negative(spec, "minReadySeconds", &path, &mut errs);
    let matcher = apps_selector(spec, &path, what, &mut errs);
    let template = spec.get("template").unwrap_or(&Value::Null);
    let template_path = path.child("template");
    if let Matcher::Broken = matcher {
        let selector = spec.get("selector").unwrap_or(&Value::Null);
        errs.push(invalid(
            path.child("selector"),
            BadValue::Raw(go_selector(selector)),
            "invalid label selector",
        ));
        return errs;
    }
    check_match(&matcher, template, &template_path, &mut errs);
    validate_template(template, &template_path, &[], &mut errs);
    always_running(template, &template_path, "ReplicaSet", &mut errs);
    errs
}

/// A Deployment.
pub fn validate_deployment(object: &Value) -> Vec<FieldError> {
    replica_set_like(object, "deployment")
}

/// A ReplicaSet (whose empty-selector message says "deployment", as Kubernetes' does).
pub fn validate_replica_set(object: &Value) -> Vec<FieldError> {
    replica_set_like(object, "deployment")
}

/// A StatefulSet: its template's mounts may also name its `volumeClaimTemplates`.
pub fn validate_stateful_set(object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = spec_of(object);
    let path = Path::new("spec");
    let policy = spec.get("podManagementPolicy").filter(|v| !v.is_null());
    if let Some(p) = policy.filter(|p| !matches!(p.as_str(), Some("OrderedReady" | "Parallel"))) {
        errs.push(invalid(
            path.child("podManagementPolicy"),
            BadValue::json(p),
            "must be 'OrderedReady' or 'Parallel'",
        ));
    }
    non_negative(spec, "replicas", &path, &mut errs);
    non_negative(spec, "minReadySeconds", &path, &mut errs);
    let matcher = apps_selector(spec, &path, "statefulset", &mut errs);
    let template = spec.get("template").unwrap_or(&Value::Null);
    let template_path = path.child("template");
    if let Matcher::Broken = matcher {
        let selector = spec.get("selector").unwrap_or(&Value::Null);
        errs.push(invalid(
            path.child("selector"),
            BadValue::Raw(go_selector(selector)),
            "",
        ));
    } else {
        check_match(&matcher, template, &template_path, &mut errs);
        let claims: Vec<String> = list(spec, "volumeClaimTemplates")
            .iter()
            .filter_map(|c| c.at("/metadata/name").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        validate_template(template, &template_path, &claims, &mut errs);
    }
    always_running(template, &template_path, "StatefulSet", &mut errs);
    errs
}

/// A DaemonSet.
pub fn validate_daemon_set(object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = spec_of(object);
    let path = Path::new("spec");
    let template = spec.get("template").unwrap_or(&Value::Null);
    let template_path = path.child("template");
    let matcher = apps_selector(spec, &path, "daemonset", &mut errs);
    check_match(&matcher, template, &template_path, &mut errs);
    validate_template(template, &template_path, &[], &mut errs);
    always_running(template, &template_path, "DaemonSet", &mut errs);
    non_negative(spec, "minReadySeconds", &path, &mut errs);
    errs
}

/// A ReplicationController: its selector is a plain map, defaulted from the template's
/// labels when unset.
pub fn validate_replication_controller(object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = spec_of(object);
    let path = Path::new("spec");
    non_negative(spec, "minReadySeconds", &path, &mut errs);
    let template = spec.get("template").filter(|t| !t.is_null());
    let given = spec
        .get("selector")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty());
    let selector = given
        .or_else(|| template.and_then(template_labels))
        .map(Selector::from_map)
        .unwrap_or_default();
    if selector.is_empty() {
        errs.push(required(path.child("selector"), ""));
    }
    non_negative(spec, "replicas", &path, &mut errs);
    let template_path = path.child("template");
    let Some(template) = template else {
        errs.push(required(template_path, ""));
        return errs;
    };
    if !selector.is_empty() {
        check_match(
            &Matcher::Labels(selector),
            template,
            &template_path,
            &mut errs,
        );
    }
    validate_template(template, &template_path, &[], &mut errs);
    always_running(template, &template_path, "ReplicationController", &mut errs);
    errs
}

/// `validateJobSpec`: counts not negative, the template, and a restart policy of OnFailure
/// or Never. Shared by Jobs and CronJobs' job templates.
fn validate_job_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
    ] {
        non_negative(spec, field, path, errs);
    }
    let template = spec.get("template").unwrap_or(&Value::Null);
    let template_path = path.child("template");
    validate_template(template, &template_path, &[], errs);
    let template_spec_path = template_path.child("spec");
    let policy_path = template_spec_path.child("restartPolicy");
    match restart_policy(template) {
        "OnFailure" | "Never" => {}
        "Always" => errs.push(required(
            policy_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        other => errs.push(not_supported(
            policy_path,
            BadValue::Str(other.into()),
            &["OnFailure", "Never"],
        )),
    }
}

/// A Job. Its selector is generated when unset; one that is set must match the template.
pub fn validate_job(object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = spec_of(object);
    let path = Path::new("spec");
    validate_job_spec(spec, &path, &mut errs);
    if let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) {
        let parsed = Selector::parse(selector, &path.child("selector"), &mut errs);
        if let Some(parsed) = parsed {
            let template = spec.get("template").unwrap_or(&Value::Null);
            check_match(
                &Matcher::Labels(parsed),
                template,
                &path.child("template"),
                &mut errs,
            );
        }
    }
    errs
}

/// A CronJob: a schedule, a known concurrency policy, and a valid job template.
pub fn validate_cron_job(object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = spec_of(object);
    let path = Path::new("spec");
    if str_at(spec, "schedule").is_empty() {
        errs.push(required(path.child("schedule"), ""));
    }
    const POLICIES: &[&str] = &["Allow", "Forbid", "Replace"];
    match spec.get("concurrencyPolicy") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) if POLICIES.contains(&p.as_str()) => {}
        Some(other) => errs.push(not_supported(
            path.child("concurrencyPolicy"),
            BadValue::json(other),
            POLICIES,
        )),
    }
    for field in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        non_negative(spec, field, &path, &mut errs);
    }
    let job_spec = spec.at("/jobTemplate/spec").unwrap_or(&Value::Null);
    validate_job_spec(
        job_spec,
        &path.child("jobTemplate").child("spec"),
        &mut errs,
    );
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::aggregate;
    use serde_json::json;

    fn strings(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": spec})
    }

    fn template(labels: Value, containers: Value) -> Value {
        json!({"metadata": {"labels": labels}, "spec": {"containers": containers}})
    }

    fn good_template() -> Value {
        template(
            json!({"app": "web"}),
            json!([{"name": "web", "image": "nginx"}]),
        )
    }

    #[test]
    fn a_valid_deployment_passes() {
        let d = deployment(json!({
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": good_template()
        }));
        assert_eq!(strings(validate_deployment(&d)), Vec::<String>::new());
    }

    #[test]
    fn a_deployment_needs_a_selector() {
        let d = deployment(json!({"template": good_template()}));
        assert_eq!(
            aggregate(&validate_deployment(&d)).as_deref(),
            Some(
                "[spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`]"
            )
        );
    }

    #[test]
    fn the_selector_must_match_template_labels() {
        let d = deployment(json!({
            "selector": {"matchLabels": {"app": "api"}},
            "template": good_template()
        }));
        assert_eq!(
            strings(validate_deployment(&d)),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
        let rs = json!({"spec": {
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
            "template": good_template()
        }});
        assert!(validate_replica_set(&rs).is_empty());
    }

    #[test]
    fn an_empty_selector_is_invalid() {
        let d = deployment(json!({"selector": {}, "template": good_template()}));
        assert_eq!(
            strings(validate_deployment(&d)),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ]
        );
    }

    #[test]
    fn a_broken_selector_skips_the_template() {
        let d = deployment(json!({
            "selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]},
            "template": {"spec": {}}
        }));
        let errs = strings(validate_deployment(&d));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[1].ends_with(": invalid label selector"), "{errs:?}");
    }

    #[test]
    fn replicas_must_not_be_negative() {
        let d = deployment(json!({
            "replicas": -1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": good_template()
        }));
        assert_eq!(
            strings(validate_deployment(&d)),
            vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn template_pod_specs_are_validated_under_their_path() {
        let d = deployment(json!({
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(json!({"app": "web"}), json!([{"name": "web"}]))
        }));
        assert_eq!(
            strings(validate_deployment(&d)),
            vec!["spec.template.spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn long_running_templates_restart_always() {
        let mut t = good_template();
        t["spec"]["restartPolicy"] = json!("Never");
        t["spec"]["activeDeadlineSeconds"] = json!(10);
        let ds = json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": t}});
        assert_eq!(
            strings(validate_daemon_set(&ds)),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported",
            ]
        );
    }

    #[test]
    fn daemon_sets_need_a_selector() {
        let ds = json!({"spec": {"template": good_template()}});
        let errs = strings(validate_daemon_set(&ds));
        assert_eq!(errs[0], "spec.selector: Required value");
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn stateful_set_mounts_may_name_claim_templates() {
        let mut t = good_template();
        t["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/d"}]);
        let sts = json!({"spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": t.clone(),
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}]
        }});
        assert!(validate_stateful_set(&sts).is_empty());
        let no_claims =
            json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": t}});
        assert_eq!(
            strings(validate_stateful_set(&no_claims)),
            vec!["spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\""]
        );
        let bad_policy = json!({"spec": {
            "podManagementPolicy": "Random",
            "replicas": -2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": good_template()
        }});
        assert_eq!(
            strings(validate_stateful_set(&bad_policy)),
            vec![
                "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
            ]
        );
    }

    #[test]
    fn replication_controllers_default_their_selector() {
        let rc = json!({"spec": {"replicas": 1, "template": good_template()}});
        assert!(validate_replication_controller(&rc).is_empty());
        let mismatch = json!({"spec": {"selector": {"app": "api"}, "template": good_template()}});
        assert_eq!(validate_replication_controller(&mismatch).len(), 1);
        let nothing = json!({"spec": {}});
        assert_eq!(
            strings(validate_replication_controller(&nothing)),
            vec![
                "spec.selector: Required value",
                "spec.template: Required value"
            ]
        );
    }

    #[test]
    fn jobs_restart_on_failure_or_never() {
        let mut t = good_template();
        let job = json!({"spec": {"template": t.clone()}});
        assert_eq!(
            strings(validate_job(&job)),
            vec![
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
            ]
        );
        t["spec"]["restartPolicy"] = json!("Never");
        let job = json!({"spec": {"template": t.clone(), "backoffLimit": -1}});
        assert_eq!(
            strings(validate_job(&job)),
            vec!["spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"]
        );
        let job =
            json!({"spec": {"template": t.clone(), "selector": {"matchLabels": {"app": "other"}}}});
        assert_eq!(validate_job(&job).len(), 1);
        let job = json!({"spec": {"template": t, "selector": {"matchLabels": {"app": "web"}}}});
        assert!(validate_job(&job).is_empty());
    }

    #[test]
    fn cron_jobs_need_a_schedule_and_a_valid_job_template() {
        let mut t = good_template();
        t["spec"]["restartPolicy"] = json!("OnFailure");
        let ok = json!({"spec": {"schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"template": t}}}});
        assert!(validate_cron_job(&ok).is_empty());
        let bad = json!({"spec": {"concurrencyPolicy": "Sometimes",
            "jobTemplate": {"spec": {"template": good_template()}}}});
        assert_eq!(
            strings(validate_cron_job(&bad)),
            vec![
                "spec.schedule: Required value",
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
                "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
            ]
        );
        let no_image = json!({"spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template":
            {"spec": {"restartPolicy": "Never", "containers": [{"name": "c"}]}}}}}});
        assert_eq!(
            strings(validate_cron_job(&no_image)),
            vec!["spec.jobTemplate.spec.template.spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn ephemeral_containers_are_not_allowed_in_templates() {
        let mut t = good_template();
        t["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
        let d = deployment(json!({"selector": {"matchLabels": {"app": "web"}}, "template": t}));
        assert_eq!(
            strings(validate_deployment(&d)),
            vec![
                "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"
            ]
        );
    }
}
