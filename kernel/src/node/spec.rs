//! What the agent reads from a Pod: which containers to run, how, and what to do when one
//! ends. Only the fields the agent acts on; admission has already checked the rest.

use std::time::Duration;

use keel_quantity::Quantity;
use serde_json::Value;

use super::probe::Probes;

/// Kubernetes' `spec.restartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart whenever a container ends.
    Always,
    /// Restart a container that failed.
    OnFailure,
    /// Never restart.
    Never,
}

impl RestartPolicy {
    /// Whether a container that ended with `code` runs again.
    pub fn restarts(self, code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => code != 0,
            RestartPolicy::Never => false,
        }
    }
}

/// One container as the pod specifies it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    /// Its name.
    pub name: String,
    /// Its image reference.
    pub image: String,
    /// The container's `command` (empty: the image's entrypoint).
    pub command: Vec<String>,
    /// Its `args` (empty: the image's command, when `command` is empty too).
    pub args: Vec<String>,
    /// Its `workingDir`.
    pub working_dir: Option<String>,
    /// The `env` entries: a value, or where to read it from.
    pub env: Vec<(String, Value)>,
    /// `resources.limits.cpu` in thousandths of a core.
    pub cpu_millis: Option<u64>,
    /// `resources.limits.memory` in bytes.
    pub memory_bytes: Option<u64>,
    /// Its startup, liveness and readiness probes.
    pub probes: Probes,
}

/// A pod as the agent runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodPlan {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// `spec.runtimeClassName`.
    pub runtime_class: Option<String>,
    /// `spec.restartPolicy` (default `Always`).
    pub restart_policy: RestartPolicy,
    /// `spec.initContainers`, run one after another before the others.
    pub init_containers: Vec<ContainerPlan>,
    /// `spec.containers`.
    pub containers: Vec<ContainerPlan>,
    /// `spec.terminationGracePeriodSeconds` (default 30 s).
    pub grace: Duration,
    /// `spec.hostNetwork`: the pod uses the node's network namespace.
    pub host_network: bool,
}

impl PodPlan {
    /// Reads `pod`.
    pub fn of(pod: &Value) -> Result<PodPlan, String> {
        let meta = |field: &str| {
            pod.pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let spec = pod.get("spec").ok_or("the pod has no spec")?;
        let restart_policy = match spec.get("restartPolicy").and_then(Value::as_str) {
            None | Some("Always") => RestartPolicy::Always,
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            Some(other) => return Err(format!("unknown restartPolicy {other:?}")),
        };
        let containers = |field: &str| -> Result<Vec<ContainerPlan>, String> {
            match spec.get(field) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(list)) => list.iter().map(ContainerPlan::of).collect(),
                Some(_) => Err(format!("spec.{field} is not a list")),
            }
        };
        Ok(PodPlan {
            namespace: meta("namespace"),
            name: meta("name"),
            uid: meta("uid"),
            runtime_class: spec
                .get("runtimeClassName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            restart_policy,
            init_containers: containers("initContainers")?,
            containers: containers("containers")?,
            grace: Duration::from_secs(
                spec.get("terminationGracePeriodSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(30),
            ),
            host_network: spec.get("hostNetwork").and_then(Value::as_bool) == Some(true),
        })
    }
}

impl ContainerPlan {
    fn of(container: &Value) -> Result<ContainerPlan, String> {
        let name = container
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a container has no name")?
            .to_string();
        let strings = |field: &str| strings(container.get(field));
        let limit = |resource: &str| {
            container
                .pointer(&format!("/resources/limits/{resource}"))
                .and_then(Quantity::from_json)
        };
        Ok(ContainerPlan {
            image: container
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            command: strings("command"),
            args: strings("args"),
            working_dir: container
                .get("workingDir")
                .and_then(Value::as_str)
                .map(str::to_string),
            env: container
                .get("env")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|e| {
                            let name = e.get("name")?.as_str()?.to_string();
                            Some((name, e.clone()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            cpu_millis: limit("cpu").and_then(|q| u64::try_from(q.milli().max(1)).ok()),
            memory_bytes: limit("memory").and_then(|q| u64::try_from(q.units()).ok()),
            probes: Probes::of(container).map_err(|e| format!("container {name:?}: {e}"))?,
            name,
        })
    }
}

/// A JSON list of strings (`command`, `args`, an exec probe's command); anything else is
/// empty.
pub fn strings(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pod_reads_with_kubernetes_defaults() {
        let pod = json!({
            "metadata": {"namespace": "default", "name": "web", "uid": "u1"},
            "spec": {
                "initContainers": [{"name": "setup", "image": "tool", "command": ["setup", "--fast"]}],
                "containers": [{
                    "name": "app", "image": "keel.test/app:v1", "args": ["serve"],
                    "env": [{"name": "MODE", "value": "prod"}],
                    "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}}
                }]
            }
        });
        let plan = PodPlan::of(&pod).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.restart_policy, RestartPolicy::Always);
        assert_eq!(plan.grace, Duration::from_secs(30));
        assert_eq!(plan.init_containers[0].command, vec!["setup", "--fast"]);
        let app = &plan.containers[0];
        assert!(app.command.is_empty());
        assert_eq!(app.args, vec!["serve"]);
        assert_eq!(app.cpu_millis, Some(250));
        assert_eq!(app.memory_bytes, Some(64 << 20));
        assert_eq!(app.env[0].0, "MODE");
    }

    #[test]
    fn restart_policies_decide_by_exit_code() {
        assert!(RestartPolicy::Always.restarts(0));
        assert!(!RestartPolicy::OnFailure.restarts(0));
        assert!(RestartPolicy::OnFailure.restarts(2));
        assert!(!RestartPolicy::Never.restarts(2));
        let bad = json!({"spec": {"restartPolicy": "Sometimes", "containers": []}});
        assert!(PodPlan::of(&bad).is_err());
    }
}
