//! A pod's status as the kubelet reports it, from what the agent knows of its containers:
//! the phase, the conditions (PodReadyToStartContainers, Initialized, ContainersReady,
//! Ready, and the scheduler's PodScheduled kept), each container's state, last state,
//! restart count and readiness, the pod's addresses and start time.
//! (<https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/>)

use serde_json::{Map, Value, json};

use super::spec::RestartPolicy;

/// A container's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not running: `ContainerCreating`, `PodInitializing`, `CrashLoopBackOff`,
    /// `ErrImagePull`, `ImagePullBackOff`, `CreateContainerError`, ...
    Waiting {
        /// Why.
        reason: String,
        /// Details.
        message: Option<String>,
    },
    /// Running since `started_at` (RFC 3339).
    Running {
        /// When it started.
        started_at: String,
    },
    /// Ended.
    Terminated(Terminated),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    /// Its exit code.
    pub exit_code: i32,
    /// `Completed`, `Error`, `OOMKilled`.
    pub reason: String,
    /// Details.
    pub message: Option<String>,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// The run's id.
    pub container_id: String,
}

/// What the agent knows of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    /// Its name.
    pub name: String,
    /// Its image reference.
    pub image: String,
    /// The image's digest, once a run started.
    pub image_id: String,
    /// The current run's id.
    pub container_id: String,
    /// Its state.
    pub state: State,
    /// How its previous run ended.
    pub last_state: Option<Terminated>,
    /// Restarts so far.
    pub restart_count: u32,
    /// Whether it is ready (running, and its readiness probe passes).
    pub ready: bool,
}

impl ContainerRecord {
    /// A container not started yet, waiting for `reason`.
    pub fn waiting(name: &str, image: &str, reason: &str) -> ContainerRecord {
        ContainerRecord {
            name: name.to_string(),
            image: image.to_string(),
            image_id: String::new(),
            container_id: String::new(),
            state: State::Waiting {
                reason: reason.to_string(),
                message: None,
            },
            last_state: None,
            restart_count: 0,
            ready: false,
        }
    }

    fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    fn succeeded(&self) -> bool {
        matches!(&self.state, State::Terminated(t) if t.exit_code == 0)
    }

    fn to_json(&self) -> Value {
        let mut status = json!({
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "state": state_json(&self.state),
            "lastState": self.last_state.as_ref().map_or_else(|| json!({}), |t| state_json(&State::Terminated(t.clone()))),
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.running(),
        });
        if !self.container_id.is_empty()
            && let Value::Object(map) = &mut status
        {
            map.insert("containerID".into(), json!(self.container_id));
        }
        status
    }
}

fn state_json(state: &State) -> Value {
    match state {
        State::Waiting { reason, message } => {
            let mut waiting = json!({"reason": reason});
            if let (Some(message), Value::Object(map)) = (message, &mut waiting) {
                map.insert("message".into(), json!(message));
            }
            json!({"waiting": waiting})
        }
        State::Running { started_at } => json!({"running": {"startedAt": started_at}}),
        State::Terminated(t) => {
            let mut terminated = json!({
                "exitCode": t.exit_code,
                "reason": t.reason,
                "startedAt": t.started_at,
                "finishedAt": t.finished_at,
                "containerID": t.container_id,
            });
            if let (Some(message), Value::Object(map)) = (&t.message, &mut terminated) {
                map.insert("message".into(), json!(message));
            }
            json!({"terminated": terminated})
        }
    }
}

/// What the agent knows of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRecord {
    /// Init containers, in order.
    pub init: Vec<ContainerRecord>,
    /// The other containers.
    pub containers: Vec<ContainerRecord>,
    /// Whether every init container completed.
    pub initialized: bool,
    /// The pod's address.
    pub pod_ip: String,
    /// The node's address.
    pub host_ip: String,
    /// When the agent took the pod on.
    pub start_time: String,
    /// A reason the pod cannot run at all (then it is `Failed`).
    pub rejected: Option<(String, String)>,
}

impl PodRecord {
    /// The phase, as the kubelet derives it.
    pub fn phase(&self, policy: RestartPolicy) -> &'static str {
        if self.rejected.is_some() {
            return "Failed";
        }
        if !self.initialized {
            let init_failed = self
                .init
                .iter()
                .any(|c| matches!(&c.state, State::Terminated(t) if t.exit_code != 0));
            return if init_failed && policy == RestartPolicy::Never {
                "Failed"
            } else {
                "Pending"
            };
        }
        let never_ran = self.containers.iter().any(|c| {
            matches!(c.state, State::Waiting { .. })
                && c.restart_count == 0
                && c.last_state.is_none()
        });
        if never_ran {
            return "Pending";
        }
        if self
            .containers
            .iter()
            .any(|c| c.running() || matches!(c.state, State::Waiting { .. }))
        {
            return "Running";
        }
        let all_succeeded = self.containers.iter().all(ContainerRecord::succeeded);
        match (policy, all_succeeded) {
            (RestartPolicy::Always, _) => "Running",
            (_, true) => "Succeeded",
            (RestartPolicy::OnFailure, false) => "Running",
            (RestartPolicy::Never, false) => "Failed",
        }
    }

    /// The status to write, given the pod as last seen (for the conditions' transition
    /// times and the scheduler's condition) and `now`.
    pub fn status(&self, pod: &Value, policy: RestartPolicy, now: &str) -> Value {
        let containers_ready =
            self.initialized && self.containers.iter().all(|c| c.ready && c.running());
        let mut conditions = vec![
            ("PodReadyToStartContainers", true, None),
            (
                "Initialized",
                self.initialized,
                (!self.initialized).then_some("ContainersNotInitialized"),
            ),
            (
                "Ready",
                containers_ready,
                (!containers_ready).then_some("ContainersNotReady"),
            ),
            (
                "ContainersReady",
                containers_ready,
                (!containers_ready).then_some("ContainersNotReady"),
            ),
        ];
        if self.rejected.is_some() {
            conditions.retain(|(kind, _, _)| *kind != "PodReadyToStartContainers");
        }
        let previous = pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut written: Vec<Value> = conditions
            .iter()
            .map(|(kind, ok, reason)| condition(&previous, kind, *ok, *reason, now))
            .collect();
        if let Some(scheduled) = previous
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"))
        {
            written.push(scheduled.clone());
        }
        let mut status = Map::new();
        status.insert("phase".into(), json!(self.phase(policy)));
        status.insert("conditions".into(), Value::Array(written));
        status.insert("hostIP".into(), json!(self.host_ip));
        status.insert("hostIPs".into(), json!([{"ip": self.host_ip}]));
        if !self.pod_ip.is_empty() {
            status.insert("podIP".into(), json!(self.pod_ip));
            status.insert("podIPs".into(), json!([{"ip": self.pod_ip}]));
        }
        status.insert("startTime".into(), json!(self.start_time));
        status.insert(
            "containerStatuses".into(),
            self.containers
                .iter()
                .map(ContainerRecord::to_json)
                .collect(),
        );
        if !self.init.is_empty() {
            status.insert(
                "initContainerStatuses".into(),
                self.init.iter().map(ContainerRecord::to_json).collect(),
            );
        }
        if let Some((reason, message)) = &self.rejected {
            status.insert("reason".into(), json!(reason));
            status.insert("message".into(), json!(message));
        }
        Value::Object(status)
    }
}

/// A condition, keeping its transition time from `previous` when its status is unchanged.
fn condition(previous: &[Value], kind: &str, ok: bool, reason: Option<&str>, now: &str) -> Value {
    let status = if ok { "True" } else { "False" };
    let since = transition_time(previous, kind, status, now);
    let mut condition = json!({
        "type": kind,
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": since,
    });
    if let (Some(reason), Value::Object(map)) = (reason, &mut condition) {
        map.insert("reason".into(), json!(reason));
    }
    condition
}

/// When condition `kind` took `status`: its time in `previous` if it already had that
/// status there, else `now`. (Pod and Node conditions alike.)
pub fn transition_time(previous: &[Value], kind: &str, status: &str, now: &str) -> Value {
    previous
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .filter(|c| c.get("status").and_then(Value::as_str) == Some(status))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(states: Vec<State>) -> PodRecord {
        PodRecord {
            init: Vec::new(),
            containers: states
                .into_iter()
                .enumerate()
                .map(|(i, state)| ContainerRecord {
                    state,
                    ..ContainerRecord::waiting(&format!("c{i}"), "img", "ContainerCreating")
                })
                .collect(),
            initialized: true,
            pod_ip: "10.0.0.2".into(),
            host_ip: "10.0.0.1".into(),
            start_time: "t0".into(),
            rejected: None,
        }
    }

    fn ended(code: i32) -> State {
        State::Terminated(Terminated {
            exit_code: code,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
            started_at: "t1".into(),
            finished_at: "t2".into(),
            container_id: "wasm://1".into(),
        })
    }

    #[test]
    fn phases_follow_the_kubelet() {
        let creating = State::Waiting {
            reason: "ContainerCreating".into(),
            message: None,
        };
        let running = State::Running {
            started_at: "t1".into(),
        };
        assert_eq!(
            record(vec![creating]).phase(RestartPolicy::Always),
            "Pending"
        );
        assert_eq!(
            record(vec![running, ended(1)]).phase(RestartPolicy::Never),
            "Running"
        );
        assert_eq!(
            record(vec![ended(0), ended(0)]).phase(RestartPolicy::OnFailure),
            "Succeeded"
        );
        assert_eq!(
            record(vec![ended(0), ended(2)]).phase(RestartPolicy::Never),
            "Failed"
        );
        let mut crashing = record(vec![State::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: None,
        }]);
        crashing.containers[0].restart_count = 2;
        assert_eq!(crashing.phase(RestartPolicy::Always), "Running");
        let mut initializing = record(vec![]);
        initializing.initialized = false;
        initializing.init = record(vec![ended(1)]).containers;
        assert_eq!(initializing.phase(RestartPolicy::Never), "Failed");
        assert_eq!(initializing.phase(RestartPolicy::Always), "Pending");
    }

    #[test]
    fn ready_needs_every_container_ready_and_transition_times_hold() {
        let mut pod_record = record(vec![State::Running {
            started_at: "t1".into(),
        }]);
        let pod = json!({"status": {"conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "t0"},
            {"type": "Ready", "status": "False", "lastTransitionTime": "t0"}
        ]}});
        let status = pod_record.status(&pod, RestartPolicy::Always, "t5");
        let ready = |status: &Value| {
            status["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready").cloned())
                .unwrap_or_default()
        };
        assert_eq!(ready(&status)["status"], "False");
        assert_eq!(ready(&status)["lastTransitionTime"], "t0", "unchanged");
        assert!(
            status["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "PodScheduled")),
            "the scheduler's condition is kept"
        );
        pod_record.containers[0].ready = true;
        let status = pod_record.status(&pod, RestartPolicy::Always, "t6");
        assert_eq!(ready(&status)["status"], "True");
        assert_eq!(ready(&status)["lastTransitionTime"], "t6");
        assert_eq!(status["containerStatuses"][0]["started"], true);
        assert_eq!(status["podIP"], "10.0.0.2");
    }
}
