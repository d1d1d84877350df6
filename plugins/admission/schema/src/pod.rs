//! Pod specs, as Kubernetes' `ValidatePodSpec` checks them: volumes, containers and init
//! containers (names, images, ports, environment, volume mounts, resources) and the restart
//! policy. Used for Pods and, under their own paths, for every workload's pod template.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::field::{
    BadValue, FieldError, Path, duplicate, forbidden, invalid, not_found, not_supported, required,
};
use crate::names::{dns1123_label, port_name, port_number};
use crate::resources;

/// The restart policies a pod may have.
pub const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];

/// The string at `key` of `value`, or "" when it is absent or not a string.
pub fn str_at<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The list at `key` of `value`; empty when absent.
pub fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Checks that the integer at `key` is not negative (`ValidateNonnegativeField`).
pub fn non_negative(value: &Value, key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(n) = value.get(key).and_then(Value::as_i64).filter(|n| *n < 0) {
        errs.push(invalid(
            path.child(key),
            BadValue::Int(n),
            "must be greater than or equal to 0",
        ));
    }
}

/// Validates a Pod object: its `spec`.
pub fn validate_pod(pod: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    validate_pod_spec(spec, &Path::new("spec"), &[], &mut errs);
    errs
}

/// Validates a pod spec at `path`. `claim_volumes` are further volume names mounts may use
/// (a StatefulSet's `volumeClaimTemplates`).
pub fn validate_pod_spec(
    spec: &Value,
    path: &Path,
    claim_volumes: &[String],
    errs: &mut Vec<FieldError>,
) {
    let mut volumes = validate_volumes(list(spec, "volumes"), &path.child("volumes"), errs);
    volumes.extend(claim_volumes.iter().cloned());

    let containers = list(spec, "containers");
    if containers.is_empty() {
        errs.push(required(path.child("containers"), ""));
    }
    let mut names = BTreeSet::new();
    for (field, items) in [
        ("containers", containers),
        ("initContainers", list(spec, "initContainers")),
    ] {
        let list_path = path.child(field);
        for (i, container) in items.iter().enumerate() {
            let p = list_path.index(i);
            validate_container(container, &p, &volumes, &mut names, errs);
        }
    }
    validate_restart_policy(spec, path, errs);
}

/// `spec.restartPolicy`: unset (Always), or one of the three policies.
fn validate_restart_policy(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    match spec.get("restartPolicy") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) if p.is_empty() => {
            errs.push(required(path.child("restartPolicy"), ""));
        }
        Some(Value::String(p)) if RESTART_POLICIES.contains(&p.as_str()) => {}
        Some(other) => errs.push(not_supported(
            path.child("restartPolicy"),
            BadValue::json(other),
            RESTART_POLICIES,
        )),
    }
}

/// `spec.volumes`: each names one source and has a unique RFC 1123 label name. Returns the
/// names of the valid volumes, which mounts may use.
fn validate_volumes(
    volumes: &[Value],
    path: &Path,
    errs: &mut Vec<FieldError>,
) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let p = path.index(i);
        let mut own = Vec::new();
        let sources: Vec<&String> = volume
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| k.as_str() != "name" && !v.is_null())
            .map(|(k, _)| k)
            .collect();
        if sources.is_empty() {
            own.push(required(p, "must specify a volume type"));
        }
        for extra in sources.iter().skip(1) {
            own.push(forbidden(
                p.child(extra),
                "may not specify more than 1 volume type",
            ));
        }
        let name = str_at(volume, "name");
        if name.is_empty() {
            own.push(required(p.child("name"), ""));
        } else {
            for msg in dns1123_label(name) {
                own.push(invalid(p.child("name"), BadValue::Str(name.into()), &msg));
            }
        }
        if names.contains(name) {
            own.push(duplicate(p.child("name"), BadValue::Str(name.into())));
        }
        if own.is_empty() {
            names.insert(name.to_string());
        } else {
            errs.append(&mut own);
        }
    }
    names
}

/// One container or init container. `names` holds the names seen so far in the pod.
fn validate_container(
    container: &Value,
    path: &Path,
    volumes: &BTreeSet<String>,
    names: &mut BTreeSet<String>,
    errs: &mut Vec<FieldError>,
) {
    let name = str_at(container, "name");
    let name_path = path.child("name");
    if name.is_empty() {
        errs.push(required(name_path, ""));
    } else {
        for msg in dns1123_label(name) {
            errs.push(invalid(name_path, BadValue::Str(name.into()), &msg));
        }
        if !names.insert(name.to_string()) {
            errs.push(duplicate(name_path, BadValue::Str(name.into())));
        }
    }
    if str_at(container, "image").is_empty() {
        errs.push(required(path.child("image"), ""));
    }
    validate_ports(list(container, "ports"), &path.child("ports"), errs);
    validate_env(list(container, "env"), &path.child("env"), errs);
    validate_volume_mounts(
        list(container, "volumeMounts"),
        &path.child("volumeMounts"),
        volumes,
        errs,
    );
    validate_pull_policy(container, path, errs);
    resources::requirements(container.get("resources"), &path.child("resources"), errs);
}

/// An integer field read for range checks: `Err` with the value when it is not an integer.
fn int(value: &Value) -> Result<i64, BadValue> {
    value.as_i64().ok_or_else(|| BadValue::json(value))
}

/// A container's ports (`validateContainerPorts`).
fn validate_ports(ports: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = str_at(port, "name");
        if !name.is_empty() {
            let msgs = port_name(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(invalid(p.child("name"), BadValue::Str(name.into()), &msg));
                }
            } else if !names.insert(name) {
                errs.push(duplicate(p.child("name"), BadValue::Str(name.into())));
            }
        }
        match port.get("containerPort").map(int) {
            None | Some(Ok(0)) => errs.push(required(p.child("containerPort"), "")),
            Some(Ok(n)) => {
                for msg in port_number(n) {
                    errs.push(invalid(p.child("containerPort"), BadValue::Int(n), &msg));
                }
            }
            Some(Err(v)) => errs.push(invalid(
                p.child("containerPort"),
                v,
                "must be between 1 and 65535, inclusive",
            )),
        }
        match port.get("hostPort").filter(|v| !v.is_null()).map(int) {
            None | Some(Ok(0)) => {}
            Some(Ok(n)) => {
                for msg in port_number(n) {
                    errs.push(invalid(p.child("hostPort"), BadValue::Int(n), &msg));
                }
            }
            Some(Err(v)) => errs.push(invalid(
                p.child("hostPort"),
                v,
                "must be between 1 and 65535, inclusive",
            )),
        }
        validate_protocol(port, &p, errs);
    }
}

/// The protocols a port may use, as Kubernetes lists them (sorted).
pub const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// A port's `protocol`: unset (TCP), or TCP, UDP or SCTP.
pub fn validate_protocol(port: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    match port.get("protocol") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) if p.is_empty() => errs.push(required(path.child("protocol"), "")),
        Some(Value::String(p)) if PROTOCOLS.contains(&p.as_str()) => {}
        Some(other) => errs.push(not_supported(
            path.child("protocol"),
            BadValue::json(other),
            PROTOCOLS,
        )),
    }
}

/// A container's environment: every variable has a name.
fn validate_env(env: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, var) in env.iter().enumerate() {
        if str_at(var, "name").is_empty() {
            errs.push(required(path.index(i).child("name"), ""));
        }
    }
}

/// A container's volume mounts: each names a volume of the pod and a unique mount path.
fn validate_volume_mounts(
    mounts: &[Value],
    path: &Path,
    volumes: &BTreeSet<String>,
    errs: &mut Vec<FieldError>,
) {
    let mut mount_points = BTreeSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let p = path.index(i);
        let name = str_at(mount, "name");
        if name.is_empty() {
            errs.push(required(p.child("name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(not_found(p.child("name"), BadValue::Str(name.into())));
        }
        let mount_path = str_at(mount, "mountPath");
        if mount_path.is_empty() {
            errs.push(required(p.child("mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            errs.push(invalid(
                p.child("mountPath"),
                BadValue::Str(mount_path.into()),
                "must be unique",
            ));
        }
    }
}

/// A container's `imagePullPolicy`: unset, Always, IfNotPresent or Never.
fn validate_pull_policy(container: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    const POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
    match container.get("imagePullPolicy") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) if POLICIES.contains(&p.as_str()) => {}
        Some(other) => errs.push(not_supported(
            path.child("imagePullPolicy"),
            BadValue::json(other),
            POLICIES,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::aggregate;
    use serde_json::json;

    fn errors(pod: Value) -> Vec<String> {
        validate_pod(&pod).iter().map(ToString::to_string).collect()
    }

    fn pod(containers: Value) -> Value {
        json!({"spec": {"containers": containers}})
    }

    #[test]
    fn a_minimal_pod_is_valid() {
        assert_eq!(
            errors(pod(json!([{"name": "web", "image": "nginx"}]))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn containers_are_required() {
        assert_eq!(
            errors(json!({"spec": {}})),
            vec!["spec.containers: Required value"]
        );
        assert_eq!(errors(json!({})), vec!["spec.containers: Required value"]);
        assert_eq!(
            errors(pod(json!([]))),
            vec!["spec.containers: Required value"]
        );
    }

    #[test]
    fn container_name_is_required_and_a_label() {
        assert_eq!(
            errors(pod(json!([{"image": "nginx"}]))),
            vec!["spec.containers[0].name: Required value"]
        );
        let errs = errors(pod(json!([{"name": "Web", "image": "nginx"}])));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with(
                "spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn container_names_are_unique_across_init_containers() {
        assert_eq!(
            errors(pod(
                json!([{"name": "web", "image": "a"}, {"name": "web", "image": "b"}])
            )),
            vec!["spec.containers[1].name: Duplicate value: \"web\""]
        );
        let spec = json!({"spec": {
            "containers": [{"name": "web", "image": "a"}],
            "initContainers": [{"name": "web", "image": "b"}]
        }});
        assert_eq!(
            errors(spec),
            vec!["spec.initContainers[0].name: Duplicate value: \"web\""]
        );
    }

    #[test]
    fn image_is_required_in_containers_and_init_containers() {
        assert_eq!(
            errors(pod(json!([{"name": "web"}]))),
            vec!["spec.containers[0].image: Required value"]
        );
        let spec = json!({"spec": {
            "containers": [{"name": "web", "image": "a"}],
            "initContainers": [{"name": "init", "image": ""}]
        }});
        assert_eq!(
            errors(spec),
            vec!["spec.initContainers[0].image: Required value"]
        );
    }

    #[test]
    fn ports_are_in_range_with_known_protocols_and_valid_names() {
        let ok = pod(json!([{"name": "web", "image": "a", "ports": [
            {"containerPort": 80, "name": "http", "protocol": "TCP"},
            {"containerPort": 53, "hostPort": 53, "protocol": "UDP"},
            {"containerPort": 9000, "protocol": "SCTP", "hostPort": 0}
        ]}]));
        assert!(errors(ok).is_empty());
        let bad = pod(json!([{"name": "web", "image": "a", "ports": [
            {"containerPort": 70000},
            {"containerPort": 80, "hostPort": 70000, "protocol": "HTTP"},
            {"name": "http"},
            {"containerPort": 81, "name": "http"},
            {"containerPort": 82, "name": "a-very-long-port-name"}
        ]}]));
        assert_eq!(
            errors(bad),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].hostPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.containers[0].ports[2].containerPort: Required value",
                "spec.containers[0].ports[3].name: Duplicate value: \"http\"",
                "spec.containers[0].ports[4].name: Invalid value: \"a-very-long-port-name\": must be no more than 15 characters",
            ]
        );
        let negative_host = pod(json!([{"name": "web", "image": "a", "ports": [
            {"containerPort": 80, "hostPort": -1}
        ]}]));
        assert_eq!(
            errors(negative_host),
            vec![
                "spec.containers[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive"
            ]
        );
    }

    #[test]
    fn restart_policy_must_be_known() {
        for ok in ["Always", "OnFailure", "Never"] {
            let p =
                json!({"spec": {"restartPolicy": ok, "containers": [{"name": "a", "image": "b"}]}});
            assert!(errors(p).is_empty(), "{ok}");
        }
        let p = json!({"spec": {"restartPolicy": "Sometimes", "containers": [{"name": "a", "image": "b"}]}});
        assert_eq!(
            errors(p),
            vec![
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
            ]
        );
    }

    #[test]
    fn volumes_are_unique_and_mounts_name_one() {
        let ok = json!({"spec": {
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
            "containers": [{"name": "a", "image": "b", "volumeMounts": [
                {"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/c"}
            ]}]
        }});
        assert!(errors(ok).is_empty());
        let missing = json!({"spec": {"containers": [{"name": "a", "image": "b", "volumeMounts": [
            {"name": "data", "mountPath": "/data"}
        ]}]}});
        assert_eq!(
            errors(missing),
            vec!["spec.containers[0].volumeMounts[0].name: Not found: \"data\""]
        );
        let dup = json!({"spec": {
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}],
            "containers": [{"name": "a", "image": "b"}]
        }});
        assert_eq!(
            errors(dup),
            vec!["spec.volumes[1].name: Duplicate value: \"data\""]
        );
    }

    #[test]
    fn volumes_name_exactly_one_source() {
        let spec = json!({"spec": {
            "volumes": [{"name": "none"}, {"name": "two", "emptyDir": {}, "hostPath": {"path": "/"}}],
            "containers": [{"name": "a", "image": "b", "volumeMounts": [{"name": "none", "mountPath": "/x"}]}]
        }});
        assert_eq!(
            errors(spec),
            vec![
                "spec.volumes[0]: Required value: must specify a volume type",
                "spec.volumes[1].hostPath: Forbidden: may not specify more than 1 volume type",
                "spec.containers[0].volumeMounts[0].name: Not found: \"none\"",
            ]
        );
    }

    #[test]
    fn mounts_need_a_name_and_a_unique_path() {
        let spec = json!({"spec": {
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [{"name": "a", "image": "b", "volumeMounts": [
                {"name": "data", "mountPath": "/d"},
                {"name": "data", "mountPath": "/d"},
                {"mountPath": ""}
            ]}]
        }});
        assert_eq!(
            errors(spec),
            vec![
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
                "spec.containers[0].volumeMounts[2].name: Required value",
                "spec.containers[0].volumeMounts[2].name: Not found: \"\"",
                "spec.containers[0].volumeMounts[2].mountPath: Required value",
            ]
        );
    }

    #[test]
    fn env_names_and_pull_policy() {
        let spec = pod(
            json!([{"name": "a", "image": "b", "imagePullPolicy": "Sometimes",
            "env": [{"name": "OK", "value": "1"}, {"value": "2"}]}]),
        );
        assert_eq!(
            errors(spec),
            vec![
                "spec.containers[0].env[1].name: Required value",
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            ]
        );
    }

    #[test]
    fn resources_are_checked_in_init_containers_too() {
        let spec = json!({"spec": {
            "containers": [{"name": "a", "image": "b"}],
            "initContainers": [{"name": "i", "image": "b", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]
        }});
        assert_eq!(
            errors(spec),
            vec![
                "spec.initContainers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
            ]
        );
    }

    #[test]
    fn several_errors_aggregate_in_brackets() {
        let spec = pod(json!([{"name": "web"}, {"name": "web", "image": "x"}]));
        assert_eq!(
            aggregate(&validate_pod(&spec)).as_deref(),
            Some(
                "[spec.containers[0].image: Required value, spec.containers[1].name: Duplicate value: \"web\"]"
            )
        );
    }

    #[test]
    fn non_negative_fields() {
        let mut errs = Vec::new();
        non_negative(
            &json!({"replicas": -1}),
            "replicas",
            &Path::new("spec"),
            &mut errs,
        );
        non_negative(
            &json!({"replicas": 0}),
            "replicas",
            &Path::new("spec"),
            &mut errs,
        );
        assert_eq!(
            errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
    }
}
