//! Resource names and a container's `resources`: which names a container, a quota or a limit
//! range may use (Kubernetes' `ValidateResourceName` family), and requests and limits that
//! parse, are not negative, and keep every request within its limit.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::field::{BadValue, FieldError, Path, invalid, required};
use crate::names::qualified_name;
use crate::quantity::{self, Parsed};

const STANDARD_CONTAINER: &[&str] = &["cpu", "memory", "ephemeral-storage"];

const STANDARD: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

const STANDARD_QUOTA: &[&str] = &[
    "pods",
    "memory",
    "requests.memory",
    "limits.memory",
    "cpu",
    "requests.cpu",
    "limits.cpu",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
    "ephemeral-storage",
    "requests.ephemeral-storage",
    "limits.ephemeral-storage",
];

fn quota_huge_pages(name: &str) -> bool {
    name.starts_with("requests.hugepages-") || name.starts_with("limits.hugepages-")
}

fn unqualified(name: &str) -> bool {
    !name.contains('/')
}

/// `ValidateResourceName`: a qualified name, and a standard one when it has no domain.
pub fn resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    let msgs = qualified_name(name);
    if !msgs.is_empty() {
        for msg in msgs {
            errs.push(invalid(*path, BadValue::Str(name.into()), &msg));
        }
        return;
    }
    let standard =
        STANDARD.contains(&name) || quantity::is_huge_pages(name) || quota_huge_pages(name);
    if unqualified(name) && !standard {
        errs.push(invalid(
            *path,
            BadValue::Str(name.into()),
            "must be a standard resource type or fully qualified",
        ));
    }
}

/// `validateContainerResourceName`: a resource a container may request.
pub fn container_resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    resource_name(name, path, errs);
    if unqualified(name) {
        if !(STANDARD_CONTAINER.contains(&name) || quantity::is_huge_pages(name)) {
            errs.push(invalid(
                *path,
                BadValue::Str(name.into()),
                "must be a standard resource for containers",
            ));
        }
    } else if !quantity::is_native(name) && !quantity::is_extended(name) {
        errs.push(invalid(
            *path,
            BadValue::Str(name.into()),
            "doesn't follow extended resource name standard",
        ));
    }
}

/// `ValidateResourceQuotaResourceName`: a resource a quota may bound.
pub fn quota_resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    resource_name(name, path, errs);
    if unqualified(name) && !(STANDARD_QUOTA.contains(&name) || quota_huge_pages(name)) {
        errs.push(invalid(
            *path,
            BadValue::Str(name.into()),
            "must be a standard resource for quota",
        ));
    }
}

/// The entries of a map field, sorted by key.
pub fn entries(map: Option<&Map<String, Value>>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.into_iter().flatten().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// A container's `resources` (`ValidateContainerResourceRequirements`): limits, then
/// requests, each name valid and each quantity parsing and not negative; a request no more
/// than its limit, and equal to it for resources that cannot be overcommitted.
pub fn requirements(resources: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(resources) = resources else {
        return;
    };
    let limits_path = path.child("limits");
    let requests_path = path.child("requests");
    let limits = resources.get("limits").and_then(Value::as_object);
    let requests = resources.get("requests").and_then(Value::as_object);

    let mut parsed_limits: BTreeMap<&str, Parsed> = BTreeMap::new();
    for (name, value) in entries(limits) {
        let p = limits_path.key(name);
        container_resource_name(name, &p, errs);
        if let Some(q) = quantity::check_value(name, value, &p, errs) {
            parsed_limits.insert(name, q);
        }
    }
    for (name, value) in entries(requests) {
        let p = requests_path.key(name);
        container_resource_name(name, &p, errs);
        let Some(request) = quantity::check_value(name, value, &p, errs) else {
            continue;
        };
        let limit_set = limits.is_some_and(|l| l.contains_key(name));
        match parsed_limits.get(name.as_str()) {
            Some(limit) => {
                let overcommit = quantity::overcommit_allowed(name);
                if request.quantity != limit.quantity && !overcommit {
                    errs.push(invalid(
                        requests_path,
                        BadValue::Str(request.text()),
                        &format!("must be equal to {name} limit of {}", limit.text()),
                    ));
                } else if request.quantity > limit.quantity {
                    errs.push(invalid(
                        requests_path,
                        BadValue::Str(request.text()),
                        &format!(
                            "must be less than or equal to {name} limit of {}",
                            limit.text()
                        ),
                    ));
                }
            }
            None if !limit_set && !quantity::overcommit_allowed(name) => {
                errs.push(required(
                    limits_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(resources: Value) -> Vec<String> {
        let mut errs = Vec::new();
        let spec = Path::new("spec");
        let containers = spec.child("containers");
        let container = containers.index(0);
        let path = container.child("resources");
        requirements(Some(&resources), &path, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn requests_within_limits_are_allowed() {
        assert!(
            check(json!({
                "requests": {"cpu": "500m", "memory": "64Mi", "example.com/gpu": 1},
                "limits": {"cpu": 1, "memory": "128Mi", "example.com/gpu": "1"}
            }))
            .is_empty()
        );
        assert!(check(json!({"requests": {"cpu": "2"}})).is_empty());
    }

    #[test]
    fn a_request_above_its_limit_is_invalid() {
        assert_eq!(
            check(json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
            ]
        );
        assert_eq!(
            check(json!({"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}})),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"1Gi\": must be less than or equal to memory limit of 512Mi"
            ]
        );
    }

    #[test]
    fn quantities_must_parse_and_not_be_negative() {
        let errs = check(json!({"requests": {"cpu": "abc"}, "limits": {"memory": "-1"}}));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(
            errs[0],
            "spec.containers[0].resources.limits[memory]: Invalid value: \"-1\": must be greater than or equal to 0"
        );
        assert!(
            errs[1].starts_with("spec.containers[0].resources.requests[cpu]: Invalid value: \"abc\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
            "{}",
            errs[1]
        );
    }

    #[test]
    fn extended_resources_cannot_be_overcommitted() {
        assert_eq!(
            check(json!({"requests": {"example.com/gpu": "1"}})),
            vec![
                "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"
            ]
        );
        assert_eq!(
            check(
                json!({"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "2"}})
            ),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to example.com/gpu limit of 2"
            ]
        );
        assert_eq!(
            check(json!({"limits": {"example.com/gpu": "500m"}})),
            vec![
                "spec.containers[0].resources.limits[example.com/gpu]: Invalid value: \"500m\": must be an integer"
            ]
        );
    }

    #[test]
    fn container_resource_names_must_be_standard_or_qualified() {
        assert_eq!(
            check(json!({"limits": {"gpu": "1"}})),
            vec![
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            ]
        );
        assert_eq!(
            check(json!({"limits": {"pods": "1"}})),
            vec![
                "spec.containers[0].resources.limits[pods]: Invalid value: \"pods\": must be a standard resource for containers"
            ]
        );
        assert!(
            check(
                json!({"limits": {"hugepages-2Mi": "2Mi"}, "requests": {"hugepages-2Mi": "2Mi"}})
            )
            .is_empty()
        );
    }

    #[test]
    fn quota_resource_names() {
        let spec = Path::new("spec");
        let hard = spec.child("hard");
        let path = hard.key("storage");
        let mut errs = Vec::new();
        quota_resource_name("storage", &path, &mut errs);
        assert_eq!(
            errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "spec.hard[storage]: Invalid value: \"storage\": must be a standard resource for quota"
            ]
        );
        errs.clear();
        for ok in [
            "pods",
            "requests.cpu",
            "count/deployments.apps",
            "requests.hugepages-2Mi",
        ] {
            quota_resource_name(ok, &path, &mut errs);
        }
        assert!(errs.is_empty(), "{errs:?}");
    }
}
