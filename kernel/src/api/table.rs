//! Server-side `Table` responses, which `kubectl get` asks for: the usual
//! columns per kind, computed from the stored objects.

use serde_json::{Value, json};

use crate::object::ResourceType;

/// One column: its header, type, priority (1 = `-o wide` only) and cell.
struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
    cell: fn(&Value) -> Value,
}

const fn col(name: &'static str, cell: fn(&Value) -> Value) -> Column {
    Column {
        name,
        kind: "string",
        priority: 0,
        cell,
    }
}

const fn int(name: &'static str, cell: fn(&Value) -> Value) -> Column {
    Column {
        name,
        kind: "integer",
        priority: 0,
        cell,
    }
}

const fn wide(name: &'static str, cell: fn(&Value) -> Value) -> Column {
    Column {
        name,
        kind: "string",
        priority: 1,
        cell,
    }
}

fn s(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn n(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(x: String) -> Value {
    Value::String(if x.is_empty() { "<none>".into() } else { x })
}

fn len(v: &Value, ptr: &str) -> Value {
    let n = match v.pointer(ptr) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    json!(n)
}

/// A duration as kubectl prints ages (`45s`, `3m12s`, `5h`, `2d3h`, `1y20d`).
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (m, h) = (secs / 60, secs / 3600);
    let d = h / 24;
    let y = d / 365;
    let pair = |a: i64, ua: &str, b: i64, ub: &str| {
        if b == 0 {
            format!("{a}{ua}")
        } else {
            format!("{a}{ua}{b}{ub}")
        }
    };
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        pair(m, "m", secs % 60, "s")
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        pair(h, "h", m % 60, "m")
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        pair(d, "d", h % 24, "h")
    } else if d < 365 * 2 {
        format!("{d}d")
    } else if d < 365 * 8 {
        pair(y, "y", d % 365, "d")
    } else {
        format!("{y}y")
    }
}

fn age_of(ts: &str) -> Value {
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => json!(human_duration(
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()
        )),
        Err(_) => json!("<unknown>"),
    }
}

fn name(v: &Value) -> Value {
    json!(s(v, "/metadata/name"))
}

fn age(v: &Value) -> Value {
    age_of(&s(v, "/metadata/creationTimestamp"))
}

/// `ready/desired` for kinds with `spec.replicas` (desired defaults to 1).
fn ready_of_replicas(v: &Value) -> Value {
    let desired = v
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    json!(format!("{}/{desired}", n(v, "/status/readyReplicas")))
}

fn pod_status(v: &Value) -> Value {
    if v.pointer("/metadata/deletionTimestamp").is_some() {
        return json!("Terminating");
    }
    let statuses = v
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    for cs in statuses.into_iter().flatten() {
        for state in ["waiting", "terminated"] {
            let reason = s(cs, &format!("/state/{state}/reason"));
            if !reason.is_empty() && reason != "Completed" {
                return json!(reason);
            }
        }
    }
    let reason = s(v, "/status/reason");
    if !reason.is_empty() {
        return json!(reason);
    }
    let phase = s(v, "/status/phase");
    json!(if phase.is_empty() {
        "Pending".to_string()
    } else {
        phase
    })
}

fn pod_ready(v: &Value) -> Value {
    let total = v
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = v
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |a| {
            a.iter()
                .filter(|c| c.get("ready") == Some(&json!(true)))
                .count()
        });
    json!(format!("{ready}/{total}"))
}

fn pod_restarts(v: &Value) -> Value {
    let r: i64 = v
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |a| a.iter().map(|c| n(c, "/restartCount")).sum());
    json!(r)
}

fn node_status(v: &Value) -> Value {
    let ready = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c.get("type") == Some(&json!("Ready"))))
        .map(|c| s(c, "/status"));
    let mut out = match ready.as_deref() {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if v.pointer("/spec/unschedulable") == Some(&json!(true)) {
        out.push_str(",SchedulingDisabled");
    }
    json!(out)
}

fn node_roles(v: &Value) -> Value {
    let roles: Vec<&str> = v
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .collect()
        })
        .unwrap_or_default();
    or_none(roles.join(","))
}

fn service_ports(v: &Value) -> Value {
    let ports: Vec<String> = v
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|p| {
                    let proto = s(p, "/protocol");
                    let node = n(p, "/nodePort");
                    let port = n(p, "/port");
                    let proto = if proto.is_empty() {
                        "TCP".to_string()
                    } else {
                        proto
                    };
                    if node > 0 {
                        format!("{port}:{node}/{proto}")
                    } else {
                        format!("{port}/{proto}")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    or_none(ports.join(","))
}

fn containers(v: &Value, field: &str) -> Value {
    let names: Vec<String> = v
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|c| s(c, field)).collect())
        .unwrap_or_default();
    json!(names.join(","))
}

fn selector(v: &Value) -> Value {
    let sel: Vec<String> = v
        .pointer("/spec/selector/matchLabels")
        .or_else(|| v.pointer("/spec/selector"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| x.as_str().map(|x| format!("{k}={x}")))
                .collect()
        })
        .unwrap_or_default();
    or_none(sel.join(","))
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    match (rt.group, rt.kind) {
        ("", "Pod") => vec![
            col("Name", name),
            col("Ready", pod_ready),
            col("Status", pod_status),
            int("Restarts", pod_restarts),
            col("Age", age),
            wide("IP", |v| or_none(s(v, "/status/podIP"))),
            wide("Node", |v| or_none(s(v, "/spec/nodeName"))),
            wide("Nominated Node", |v| {
                or_none(s(v, "/status/nominatedNodeName"))
            }),
            wide("Readiness Gates", |v| {
                let gates = v
                    .pointer("/spec/readinessGates")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                or_none(if gates == 0 {
                    String::new()
                } else {
                    format!("0/{gates}")
                })
            }),
        ],
        ("", "Namespace") => vec![
            col("Name", name),
            col("Status", |v| {
                json!(if s(v, "/status/phase").is_empty() {
                    "Active".into()
                } else {
                    s(v, "/status/phase")
                })
            }),
            col("Age", age),
        ],
        ("", "Node") => vec![
            col("Name", name),
            col("Status", node_status),
            col("Roles", node_roles),
            col("Age", age),
            col("Version", |v| {
                json!(s(v, "/status/nodeInfo/kubeletVersion"))
            }),
            wide("Internal-IP", |v| {
                let ip = v
                    .pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter()
                            .find(|x| x.get("type") == Some(&json!("InternalIP")))
                            .map(|x| s(x, "/address"))
                    });
                or_none(ip.unwrap_or_default())
            }),
            wide("OS-Image", |v| json!(s(v, "/status/nodeInfo/osImage"))),
            wide("Container-Runtime", |v| {
                json!(s(v, "/status/nodeInfo/containerRuntimeVersion"))
            }),
        ],
        ("", "Service") => vec![
            col("Name", name),
            col("Type", |v| {
                json!(if s(v, "/spec/type").is_empty() {
                    "ClusterIP".into()
                } else {
                    s(v, "/spec/type")
                })
            }),
            col("Cluster-IP", |v| or_none(s(v, "/spec/clusterIP"))),
            col("External-IP", |v| {
                let ips: Vec<String> = v
                    .pointer("/spec/externalIPs")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                or_none(ips.join(","))
            }),
            col("Port(s)", service_ports),
            col("Age", age),
            wide("Selector", selector),
        ],
        ("", "ConfigMap") => vec![
            col("Name", name),
            col("Data", |v| len(v, "/data")),
            col("Age", age),
        ],
        ("", "Secret") => vec![
            col("Name", name),
            col("Type", |v| {
                json!(if s(v, "/type").is_empty() {
                    "Opaque".into()
                } else {
                    s(v, "/type")
                })
            }),
            col("Data", |v| len(v, "/data")),
            col("Age", age),
        ],
        ("", "Endpoints") => vec![
            col("Name", name),
            col("Endpoints", |v| {
                or_none(if v.pointer("/subsets").is_some() {
                    "set".into()
                } else {
                    String::new()
                })
            }),
            col("Age", age),
        ],
        ("", "ServiceAccount") => vec![col("Name", name), col("Age", age)],
        ("", "Event") => vec![
            col("Last Seen", |v| {
                let ts = [
                    s(v, "/lastTimestamp"),
                    s(v, "/eventTime"),
                    s(v, "/metadata/creationTimestamp"),
                ];
                ts.into_iter()
                    .find(|t| !t.is_empty())
                    .map_or(json!("<unknown>"), |t| age_of(&t))
            }),
            col("Type", |v| json!(s(v, "/type"))),
            col("Reason", |v| json!(s(v, "/reason"))),
            col("Object", |v| {
                json!(format!(
                    "{}/{}",
                    s(v, "/involvedObject/kind").to_lowercase(),
                    s(v, "/involvedObject/name")
                ))
            }),
            col("Message", |v| json!(s(v, "/message"))),
        ],
        ("apps", "Deployment") => vec![
            col("Name", name),
            col("Ready", ready_of_replicas),
            int("Up-to-date", |v| json!(n(v, "/status/updatedReplicas"))),
            int("Available", |v| json!(n(v, "/status/availableReplicas"))),
            col("Age", age),
            wide("Containers", |v| containers(v, "/name")),
            wide("Images", |v| containers(v, "/image")),
            wide("Selector", selector),
        ],
        ("apps", "ReplicaSet") => vec![
            col("Name", name),
            int("Desired", |v| {
                json!(
                    v.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )
            }),
            int("Current", |v| json!(n(v, "/status/replicas"))),
            int("Ready", |v| json!(n(v, "/status/readyReplicas"))),
            col("Age", age),
        ],
        ("apps", "StatefulSet") => vec![
            col("Name", name),
            col("Ready", ready_of_replicas),
            col("Age", age),
        ],
        ("apps", "DaemonSet") => vec![
            col("Name", name),
            int("Desired", |v| json!(n(v, "/status/desiredNumberScheduled"))),
            int("Current", |v| json!(n(v, "/status/currentNumberScheduled"))),
            int("Ready", |v| json!(n(v, "/status/numberReady"))),
            col("Age", age),
        ],
        ("batch", "Job") => vec![
            col("Name", name),
            col("Completions", |v| {
                json!(format!(
                    "{}/{}",
                    n(v, "/status/succeeded"),
                    v.pointer("/spec/completions")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ))
            }),
            col("Age", age),
        ],
        ("batch", "CronJob") => vec![
            col("Name", name),
            col("Schedule", |v| json!(s(v, "/spec/schedule"))),
            col("Suspend", |v| {
                json!(
                    v.pointer("/spec/suspend")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .to_string()
                        .replace("false", "False")
                        .replace("true", "True")
                )
            }),
            int("Active", |v| len(v, "/status/active")),
            col("Age", age),
        ],
        ("coordination.k8s.io", "Lease") => vec![
            col("Name", name),
            col("Holder", |v| json!(s(v, "/spec/holderIdentity"))),
            col("Age", age),
        ],
        (crate::object::resource::KEEL_GROUP, "Plugin") => vec![
            col("Name", name),
            col("Type", |v| json!(s(v, "/spec/type"))),
            col("Ready", |v| {
                let ready = v
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|c| c.iter().find(|c| c.get("type") == Some(&json!("Ready"))))
                    .map(|c| s(c, "/status"));
                json!(ready.unwrap_or_else(|| "Unknown".into()))
            }),
            col("Reason", |v| json!(s(v, "/status/conditions/0/reason"))),
            col("Module", |v| {
                json!(s(v, "/spec/module").chars().take(19).collect::<String>())
            }),
            col("Age", age),
        ],
        _ => vec![col("Name", name), col("Age", age)],
    }
}

/// What a Table row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// The object's metadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// From the query parameter.
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

fn row(rt: &ResourceType, cols: &[Column], obj: &Value, include: IncludeObject) -> Value {
    let cells: Vec<Value> = cols.iter().map(|c| (c.cell)(obj)).collect();
    let object = match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    };
    let _ = rt;
    json!({"cells": cells, "object": object})
}

/// A Table of `objects` read at `resource_version`.
pub fn table(
    rt: &ResourceType,
    objects: &[Value],
    resource_version: &str,
    cont: Option<&str>,
    include: IncludeObject,
) -> Value {
    let cols = columns(rt);
    let defs: Vec<Value> = cols
        .iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({"name": c.name, "type": c.kind, "format": format, "description": "", "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|o| row(rt, &cols, o, include)).collect();
    let mut meta = json!({"resourceVersion": resource_version});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Registry;

    #[test]
    fn ages_print_as_kubectl_does() {
        for (secs, want) in [
            (5, "5s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (30 * 3600, "30h"),
            (50 * 3600, "2d2h"),
            (400 * 86400, "400d"),
            (800 * 86400, "2y70d"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn pod_rows() {
        let reg = Registry::default();
        let pods = reg
            .by_path("", "v1", "pods")
            .unwrap_or_else(|| panic!("pods served"));
        let pod = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 2}, {"ready": false, "restartCount": 1,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let t = table(pods, &[pod], "5", None, IncludeObject::Metadata);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "web");
        assert_eq!(cells[1], "1/2");
        assert_eq!(cells[2], "CrashLoopBackOff");
        assert_eq!(cells[3], 3);
        assert_eq!(t["columnDefinitions"][6]["priority"], 1);
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
