//! Admission plugin: validates built-in kinds as Kubernetes' API server does, so the kernel
//! can store every kind generically. A create or update (not a delete, not a subresource) of
//! one of these kinds that breaks a rule is denied 422 Invalid with Kubernetes' field errors
//! (`spec.containers[0].image: Required value`; several as `[a, b]`):
//!
//! | kind | checks | module |
//! |---|---|---|
//! | Pod | containers, init containers, ports, resources, volumes and mounts, restart policy | [`pod`] |
//! | Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController, Job, CronJob | replicas, selector, the pod template | [`workload`] |
//! | Service | type, ports, node ports, external name | [`service`] |
//! | ResourceQuota, LimitRange | resource names and quantities | [`quota`] |
//!
//! Every check reads the object's `spec`, and a Service's also its `metadata.name`, so a
//! request's object is parsed into those alone ([`READ`]). There is no configuration.
//! It only validates.

pub mod field;
pub mod names;
pub mod pod;
pub mod quantity;
pub mod quota;
pub mod resources;
pub mod selector;
pub mod service;
pub mod workload;

use keel_sdk::admission::{Admission, Operation, PluginError, Request, Steps, Verdict};
use keel_sdk::json::{Fields, parse_only};
use serde_json::Value;

use field::FieldError;

/// The parts of an object the checks read: its `spec` and its name. A check that reads
/// another field adds it here.
pub static READ: Fields = Fields::Only(&[
    ("metadata", Fields::Only(&[("name", Fields::All)])),
    ("spec", Fields::All),
]);

/// The field errors of `object`, an object of `kind` in API `group`; `None` for kinds this
/// plugin does not validate.
pub fn errors(group: &str, kind: &str, object: &Value) -> Option<Vec<FieldError>> {
    let errors = match (group, kind) {
        ("", "Pod") => pod::validate_pod(object),
        ("apps", "Deployment") => workload::validate_deployment(object),
        ("apps", "ReplicaSet") => workload::validate_replica_set(object),
        ("apps", "StatefulSet") => workload::validate_stateful_set(object),
        ("apps", "DaemonSet") => workload::validate_daemon_set(object),
        ("", "ReplicationController") => workload::validate_replication_controller(object),
        ("batch", "Job") => workload::validate_job(object),
        ("batch", "CronJob") => workload::validate_cron_job(object),
        ("", "Service") => service::validate_service(object),
        ("", "ResourceQuota") => quota::validate_resource_quota(object),
        ("", "LimitRange") => quota::validate_limit_range(object),
        _ => return None,
    };
    Some(errors)
}

/// The denial message for a write of `object`, or `None` when it is valid (or of a kind not
/// validated here).
pub fn check(group: &str, kind: &str, object: &Value) -> Option<String> {
    field::aggregate(&errors(group, kind, object)?)
}

/// Whether a write is one this plugin validates: a create or update of the object itself.
pub fn applies(operation: Operation, subresource: Option<&str>) -> bool {
    matches!(operation, Operation::Create | Operation::Update) && subresource.is_none()
}

struct Schema;

impl Admission for Schema {
    const STEPS: Steps = Steps::VALIDATE;

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        if !applies(request.operation, request.subresource.as_deref()) {
            return Ok(Verdict::allow());
        }
        let Some(text) = request.object.as_deref() else {
            return Ok(Verdict::allow());
        };
        let object = parse_only(text, &READ)?;
        Ok(match check(&request.group, &request.kind, &object) {
            Some(message) => Verdict::invalid(message),
            None => Verdict::allow(),
        })
    }
}

keel_sdk::export_admission!(Schema);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_creates_and_updates_of_the_object_are_validated() {
        assert!(applies(Operation::Create, None));
        assert!(applies(Operation::Update, None));
        assert!(!applies(Operation::Update, Some("status")));
        assert!(!applies(Operation::Delete, None));
        assert!(!applies(Operation::Connect, None));
    }

    #[test]
    fn kinds_are_routed_by_group_and_kind() {
        let bad_pod = json!({"spec": {"containers": [{"name": "web"}]}});
        assert_eq!(
            check("", "Pod", &bad_pod).as_deref(),
            Some("spec.containers[0].image: Required value")
        );
        assert_eq!(check("example.com", "Pod", &bad_pod), None);
        assert_eq!(check("", "ConfigMap", &json!({})), None);
        assert_eq!(
            check("apps", "Deployment", &json!({})).as_deref(),
            Some(
                "[spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`, spec.template.spec.containers: Required value]"
            )
        );
        assert_eq!(
            check("", "Service", &json!({"spec": {}})).as_deref(),
            Some("spec.ports: Required value")
        );
        assert!(
            check(
                "",
                "ResourceQuota",
                &json!({"spec": {"hard": {"cpu": "x"}}})
            )
            .is_some()
        );
        assert!(
            check(
                "",
                "LimitRange",
                &json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "x"}}]}})
            )
            .is_some()
        );
        assert!(check("batch", "Job", &json!({})).is_some());
        assert!(check("batch", "CronJob", &json!({})).is_some());
        assert!(check("apps", "StatefulSet", &json!({})).is_some());
        assert!(check("apps", "DaemonSet", &json!({})).is_some());
        assert!(check("apps", "ReplicaSet", &json!({})).is_some());
        assert!(check("", "ReplicationController", &json!({})).is_some());
    }

    #[test]
    fn what_is_read_decides_as_the_whole_object_does() {
        let objects = [
            (
                "",
                "Pod",
                json!({"metadata": {"name": "web", "labels": {"a": "b"}},
                "spec": {"containers": [{"name": "web", "ports": [{"containerPort": 70000}]}]},
                "status": {"phase": "Pending"}}),
            ),
            (
                "",
                "Pod",
                json!({"kind": "Pod", "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}),
            ),
            (
                "apps",
                "Deployment",
                json!({"metadata": {"name": "web", "labels": {"app": "x"}},
                "spec": {"selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "other"}},
                                      "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
            ),
            (
                "apps",
                "StatefulSet",
                json!({"metadata": {"name": "db"},
                "spec": {"selector": {"matchLabels": {"app": "db"}},
                         "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
                         "template": {"metadata": {"labels": {"app": "db"}},
                                      "spec": {"containers": [{"name": "c", "image": "i",
                                          "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}}}}),
            ),
            (
                "",
                "ResourceQuota",
                json!({"metadata": {"name": "q"}, "spec": {"hard": {"cpu": "x"}}}),
            ),
        ];
        for (group, kind, object) in objects {
            let whole = check(group, kind, &object);
            let read = parse_only(&object.to_string(), &READ)
                .map(|read| check(group, kind, &read))
                .map_err(|e| e.to_string());
            assert_eq!(read, Ok(whole), "{kind} {object}");
        }
    }

    #[test]
    fn a_valid_pod_is_allowed() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]}});
        assert_eq!(check("", "Pod", &pod), None);
    }
}
