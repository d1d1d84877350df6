//! Services, as Kubernetes' `ValidateService` checks them: an RFC 1035 name, a known type,
//! ports (required unless ExternalName or headless; in range; named when several; unique),
//! node ports only where a type allows them, and a DNS name for ExternalName services.

use std::collections::BTreeSet;

use keel_sdk::json::At;
use serde_json::Value;

use crate::field::{
    BadValue, FieldError, Path, duplicate, forbidden, invalid, not_supported, required,
};
use crate::names::{dns1035_label, dns1123_label, dns1123_subdomain, port_name, port_number};
use crate::pod::{list, str_at, validate_protocol};

/// The service types, sorted as Kubernetes lists them.
const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

/// Validates a Service object.
pub fn validate_service(service: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(name) = service.at("/metadata/name").and_then(Value::as_str) {
        for msg in dns1035_label(name) {
            errs.push(invalid(
                Path::new("metadata").child("name"),
                BadValue::Str(name.into()),
                &msg,
            ));
        }
    }
    let spec = service.get("spec").unwrap_or(&Value::Null);
    let path = Path::new("spec");
    let kind = match spec.get("type") {
        None | Some(Value::Null) => "ClusterIP",
        Some(t) => t.as_str().unwrap_or("?"),
    };
    let headless = str_at(spec, "clusterIP") == "None";
    let ports = list(spec, "ports");
    if ports.is_empty() && !headless && kind != "ExternalName" {
        errs.push(required(path.child("ports"), ""));
    }
    if kind == "ExternalName" {
        let cname = str_at(spec, "externalName").trim_end_matches('.');
        if cname.is_empty() {
            errs.push(required(path.child("externalName"), ""));
        } else {
            for msg in dns1123_subdomain(cname) {
                errs.push(invalid(
                    path.child("externalName"),
                    BadValue::Str(cname.into()),
                    &msg,
                ));
            }
        }
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_port(
            port,
            ports.len() > 1,
            &mut names,
            &path.child("ports").index(i),
            &mut errs,
        );
    }
    validate_session_affinity(spec, &path, &mut errs);
    if !TYPES.contains(&kind) {
        let value = spec
            .get("type")
            .map_or(BadValue::Str(String::new()), BadValue::json);
        errs.push(not_supported(path.child("type"), value, TYPES));
    }
    if kind == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if port
                .get("nodePort")
                .and_then(Value::as_i64)
                .is_some_and(|n| n != 0)
            {
                errs.push(forbidden(
                    path.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    duplicate_ports(ports, &path, &mut errs);
    errs
}

/// One port (`validateServicePort`).
fn validate_port<'a>(
    port: &'a Value,
    require_name: bool,
    names: &mut BTreeSet<&'a str>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let name = str_at(port, "name");
    if require_name && name.is_empty() {
        errs.push(required(path.child("name"), ""));
    } else if !name.is_empty() {
        for msg in dns1123_label(name) {
            errs.push(invalid(
                path.child("name"),
                BadValue::Str(name.into()),
                &msg,
            ));
        }
        if !names.insert(name) {
            errs.push(duplicate(path.child("name"), BadValue::Str(name.into())));
        }
    }
    let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
    for msg in port_number(number) {
        errs.push(invalid(path.child("port"), BadValue::Int(number), &msg));
    }
    validate_protocol(port, path, errs);
    match port.get("targetPort") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => {}
            Some(t) => {
                for msg in port_number(t) {
                    errs.push(invalid(path.child("targetPort"), BadValue::Int(t), &msg));
                }
            }
            None => errs.push(invalid(
                path.child("targetPort"),
                BadValue::Raw(n.to_string()),
                "must be between 1 and 65535, inclusive",
            )),
        },
        Some(Value::String(s)) if !s.is_empty() => {
            for msg in port_name(s) {
                errs.push(invalid(
                    path.child("targetPort"),
                    BadValue::Str(s.clone()),
                    &msg,
                ));
            }
        }
        _ => {}
    }
}

/// `spec.sessionAffinity`: unset (None), ClientIP or None.
fn validate_session_affinity(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    const AFFINITIES: &[&str] = &["ClientIP", "None"];
    match spec.get("sessionAffinity") {
        None | Some(Value::Null) => {}
        Some(Value::String(a)) if AFFINITIES.contains(&a.as_str()) => {}
        Some(other) => errs.push(not_supported(
            path.child("sessionAffinity"),
            BadValue::json(other),
            AFFINITIES,
        )),
    }
}

/// The protocol a port uses: TCP when unset.
fn protocol(port: &Value) -> &str {
    match str_at(port, "protocol") {
        "" => "TCP",
        p => p,
    }
}

/// Two ports with the same protocol and number, or the same protocol and node port.
fn duplicate_ports(ports: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    let mut node_ports = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let Some(node_port) = port
            .get("nodePort")
            .and_then(Value::as_i64)
            .filter(|n| *n != 0)
        else {
            continue;
        };
        if !node_ports.insert((protocol(port), node_port)) {
            errs.push(duplicate(
                path.child("ports").index(i).child("nodePort"),
                BadValue::Int(node_port),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        let proto = protocol(port);
        if !seen.insert((proto, number)) {
            // Kubernetes prints the (protocol, port) key as the Go struct it is.
            let key = format!(
                "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{number}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                crate::field::go_quote(proto)
            );
            errs.push(duplicate(path.child("ports").index(i), BadValue::Raw(key)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(spec: Value) -> Vec<String> {
        let service = json!({"metadata": {"name": "web"}, "spec": spec});
        validate_service(&service)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_cluster_ip_service_with_ports_is_valid() {
        assert!(errors(json!({"ports": [{"port": 80, "targetPort": 8080}]})).is_empty());
        assert!(
            errors(json!({"type": "NodePort", "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080},
                {"name": "dns", "port": 53, "protocol": "UDP"}
            ]}))
            .is_empty()
        );
    }

    #[test]
    fn ports_are_required_unless_external_name_or_headless() {
        assert_eq!(errors(json!({})), vec!["spec.ports: Required value"]);
        assert!(errors(json!({"clusterIP": "None"})).is_empty());
        assert!(
            errors(json!({"type": "ExternalName", "externalName": "db.example.com."})).is_empty()
        );
    }

    #[test]
    fn external_name_needs_a_dns_name() {
        assert_eq!(
            errors(json!({"type": "ExternalName"})),
            vec!["spec.externalName: Required value"]
        );
        let errs = errors(json!({"type": "ExternalName", "externalName": "Not_A_Host"}));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with(
            "spec.externalName: Invalid value: \"Not_A_Host\": a lowercase RFC 1123 subdomain"
        ));
    }

    #[test]
    fn ports_are_in_range_with_known_protocols() {
        assert_eq!(
            errors(json!({"ports": [{"port": 70000, "protocol": "HTTP"}]})),
            vec![
                "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ]
        );
        assert_eq!(
            errors(json!({"ports": [{"targetPort": 8080}]})),
            vec!["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"]
        );
        assert_eq!(
            errors(json!({"ports": [{"port": 80, "targetPort": 0x10000}]})),
            vec![
                "spec.ports[0].targetPort: Invalid value: 65536: must be between 1 and 65535, inclusive"
            ]
        );
    }

    #[test]
    fn several_ports_need_unique_names() {
        assert_eq!(
            errors(
                json!({"ports": [{"port": 80}, {"name": "b", "port": 81}, {"name": "b", "port": 82}]})
            ),
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[2].name: Duplicate value: \"b\"",
            ]
        );
    }

    #[test]
    fn the_type_must_be_known() {
        assert_eq!(
            errors(json!({"type": "Magic", "ports": [{"port": 80}]})),
            vec![
                "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
            ]
        );
        for ok in ["ClusterIP", "NodePort", "LoadBalancer"] {
            assert!(
                errors(json!({"type": ok, "ports": [{"port": 80}]})).is_empty(),
                "{ok}"
            );
        }
    }

    #[test]
    fn node_ports_are_forbidden_on_cluster_ip() {
        assert_eq!(
            errors(json!({"ports": [{"port": 80, "nodePort": 30000}]})),
            vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
        );
    }

    #[test]
    fn duplicate_ports_and_node_ports() {
        let errs = errors(json!({"type": "NodePort", "ports": [
            {"name": "a", "port": 80, "nodePort": 30000},
            {"name": "b", "port": 80, "protocol": "TCP", "nodePort": 30000},
            {"name": "c", "port": 80, "protocol": "UDP"}
        ]}));
        assert_eq!(
            errs,
            vec![
                "spec.ports[1].nodePort: Duplicate value: 30000",
                "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
            ]
        );
    }

    #[test]
    fn session_affinity_and_name() {
        assert_eq!(
            errors(json!({"sessionAffinity": "Sticky", "ports": [{"port": 80}]})),
            vec![
                "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""
            ]
        );
        let svc = json!({"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}});
        let errs = validate_service(&svc);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .to_string()
                .starts_with("metadata.name: Invalid value: \"1web\": a DNS-1035 label")
        );
    }
}
