//! The node's own object: registering it (created, or its labels brought up to date when it
//! exists), and its status as the kubelet posts it: capacity and allocatable, the Ready and
//! pressure conditions with a heartbeat, addresses, the agent's endpoint (where the API
//! server reads logs), node info, and the runtime handlers it offers.

use serde_json::{Map, Value, json};

use super::status::transition_time;
use crate::client::http::{ApiClient, HttpError};
use crate::object::meta::now_rfc3339;

/// What the node declares about itself.
#[derive(Debug, Clone)]
pub struct NodeDescription {
    /// Its name.
    pub name: String,
    /// Its address (`InternalIP`).
    pub address: String,
    /// The agent's port (`daemonEndpoints.kubeletEndpoint.Port`).
    pub port: u16,
    /// CPU capacity (`"2"`, `"1500m"`).
    pub cpu: String,
    /// Memory capacity (`"8Gi"`).
    pub memory: String,
    /// How many pods it takes.
    pub pods: u32,
    /// Labels beyond the well-known ones.
    pub labels: Vec<(String, String)>,
    /// Runtime handlers, the default first.
    pub handlers: Vec<&'static str>,
}

impl NodeDescription {
    /// The node's labels: `kubernetes.io/hostname`, `os` and `arch`, then the given ones.
    pub fn all_labels(&self) -> Map<String, Value> {
        let mut labels = Map::new();
        for (key, value) in [
            ("kubernetes.io/hostname", self.name.as_str()),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", arch()),
            ("beta.kubernetes.io/os", "linux"),
            ("beta.kubernetes.io/arch", arch()),
        ] {
            labels.insert(key.into(), json!(value));
        }
        for (key, value) in &self.labels {
            labels.insert(key.clone(), json!(value));
        }
        labels
    }

    /// The status to post, keeping transition times from `current` (the node as stored).
    pub fn status(&self, current: &Value) -> Value {
        let now = now_rfc3339();
        let previous = current
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let conditions: Vec<Value> = [
            (
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "agent has sufficient memory available",
            ),
            (
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "agent has no disk pressure",
            ),
            (
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "agent has sufficient PID available",
            ),
            (
                "Ready",
                "True",
                "KubeletReady",
                "agent is posting ready status",
            ),
        ]
        .iter()
        .map(|(kind, status, reason, message)| {
            let since = transition_time(previous, kind, status, &now);
            json!({"type": kind, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": since})
        })
        .collect();
        let resources =
            json!({"cpu": self.cpu, "memory": self.memory, "pods": self.pods.to_string()});
        json!({
            "capacity": resources,
            "allocatable": resources,
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": self.address},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": {
                "machineID": "", "systemUUID": "", "bootID": "",
                "kernelVersion": "", "osImage": "Keel",
                "containerRuntimeVersion": format!("keel://{}", env!("CARGO_PKG_VERSION")),
                "kubeletVersion": format!("v1.31.0-keel.{}", env!("CARGO_PKG_VERSION")),
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": arch(),
            },
            "runtimeHandlers": self.handlers.iter().map(|name| json!({
                "name": name,
                "features": {"recursiveReadOnlyMounts": false, "userNamespaces": false},
            })).collect::<Vec<_>>(),
        })
    }
}

/// Kubernetes' name for this machine's architecture.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn path(name: &str) -> String {
    format!("/api/v1/nodes/{name}")
}

/// Creates the node, or brings the labels of the one that exists up to date; the node.
pub async fn register(client: &ApiClient, node: &NodeDescription) -> Result<Value, HttpError> {
    let labels = Value::Object(node.all_labels());
    let object = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node.name, "labels": labels},
        "spec": {},
    });
    match client.create("/api/v1/nodes", &object).await {
        Ok(created) => Ok(created),
        Err(HttpError::Status { code: 409, .. }) => {
            client
                .merge_patch(&path(&node.name), &json!({"metadata": {"labels": labels}}))
                .await
        }
        Err(error) => Err(error),
    }
}

/// Posts the node's status; the node as stored after it.
pub async fn post_status(
    client: &ApiClient,
    node: &NodeDescription,
    current: &Value,
) -> Result<Value, HttpError> {
    client
        .merge_patch(
            &format!("{}/status", path(&node.name)),
            &json!({"status": node.status(current)}),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description() -> NodeDescription {
        NodeDescription {
            name: "n1".into(),
            address: "10.0.0.1".into(),
            port: 10250,
            cpu: "2".into(),
            memory: "4Gi".into(),
            pods: 110,
            labels: vec![("zone".into(), "a".into())],
            handlers: vec!["wasm"],
        }
    }

    #[test]
    fn status_says_ready_with_capacity_and_where_the_agent_listens() {
        let status = description().status(&Value::Null);
        assert_eq!(status["capacity"]["pods"], "110");
        assert_eq!(status["allocatable"]["memory"], "4Gi");
        assert_eq!(status["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
        assert_eq!(status["addresses"][0]["address"], "10.0.0.1");
        assert_eq!(status["runtimeHandlers"][0]["name"], "wasm");
        let ready = &status["conditions"][3];
        assert_eq!(
            (ready["type"].as_str(), ready["status"].as_str()),
            (Some("Ready"), Some("True"))
        );
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_unchanged() {
        let current = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}});
        let status = description().status(&current);
        assert_eq!(
            status["conditions"][3]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        let labels = description().all_labels();
        assert_eq!(labels["kubernetes.io/hostname"], "n1");
        assert_eq!(labels["zone"], "a");
    }
}
