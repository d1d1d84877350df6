//! One container of a pod, driven to its spec: start a run, wait for it to end, and start
//! it again as the restart policy says, after the back-off. Each change of its state is
//! reported to the pod's worker as a whole [`ContainerRecord`]; the task ends when the
//! container will not run again, or when it is told to stop (its run is stopped with the
//! pod's grace period). An agent that restarts picks a container's count of restarts and
//! its log runs up where they were.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::Node;
use super::backoff::Backoff;
use super::logs::ContainerLogs;
use super::probe::{ProbeEvent, Target};
use super::runtime::{ContainerSpec, Runtime, StartError};
use super::spec::{ContainerPlan, RestartPolicy};
use super::status::{ContainerRecord, State, Terminated};
use super::{env, volumes};
use crate::object::meta::now_rfc3339;

/// Which container of the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The n-th init container: it runs to completion before the next one starts.
    Init(usize),
    /// The n-th container.
    Main(usize),
}

/// What a container task tells its pod's worker.
#[derive(Debug)]
pub enum Report {
    /// The container's state changed.
    Changed(Slot, Box<ContainerRecord>),
    /// It will not run again; its last exit code, if it ran.
    Ended(Slot, Option<i32>),
}

/// A container task's inputs.
pub struct ContainerTask {
    /// The node.
    pub node: Arc<Node>,
    /// The runtime the pod runs on.
    pub runtime: Arc<dyn Runtime>,
    /// The pod as first seen (its fields feed the environment).
    pub pod: Value,
    /// The pod as the kubelet names it in messages: `name_namespace(uid)`.
    pub pod_id: String,
    /// The container's spec in the pod.
    pub spec: Value,
    /// The container.
    pub plan: ContainerPlan,
    /// Which container it is.
    pub slot: Slot,
    /// The pod's restart policy.
    pub policy: RestartPolicy,
    /// The pod's grace period.
    pub grace: Duration,
    /// Where its logs go.
    pub logs: ContainerLogs,
    /// The pod's addresses.
    pub ips: env::PodIps,
    /// The pod's network namespace (a path), `None` for the node's.
    pub network_namespace: Option<String>,
    /// Where reports go.
    pub reports: mpsc::UnboundedSender<Report>,
    /// Becomes `true` when the pod is stopping.
    pub stop: watch::Receiver<Option<Duration>>,
}

impl ContainerTask {
    /// Drives the container until it will not run again or is stopped.
    pub async fn run(mut self) {
        let mut record =
            ContainerRecord::waiting(&self.plan.name, &self.plan.image, "ContainerCreating");
        let mut crashes = Backoff::new(self.node.backoff);
        let mut pulls = Backoff::new(self.node.backoff);
        // After an agent restart, a container's runs go on where they were: the next log
        // file, and its restart count.
        let mut run: u32 = self.logs.runs().last().map_or(0, |last| last + 1);
        let mut restarts = self.earlier_restarts();
        let mut last_code = None;
        while self.stop.borrow().is_none() {
            let spec = match self.prepare(run).await {
                Ok(spec) => spec,
                Err((reason, message)) => {
                    record.state = State::Waiting {
                        reason: reason.into(),
                        message: Some(message),
                    };
                    self.report(&record);
                    if !self.pause(pulls.delay_after(Duration::ZERO)).await {
                        break;
                    }
                    continue;
                }
            };
            let log = spec.log.clone();
            let runtime = self.runtime.clone();
            let started = tokio::task::spawn_blocking(move || runtime.start(spec))
                .await
                .unwrap_or_else(|e| Err(StartError::Create(format!("start failed: {e}"))));
            let mut running = match started {
                Ok(running) => running,
                Err(error) => {
                    log.finish();
                    let pulled_before = matches!(&record.state,
                        State::Waiting { reason, .. } if reason == "ErrImagePull" || reason == "ImagePullBackOff");
                    let reason = match (&error, pulled_before) {
                        (StartError::Image(_), true) => "ImagePullBackOff",
                        _ => error.reason(),
                    };
                    record.state = State::Waiting {
                        reason: reason.into(),
                        message: Some(error.to_string()),
                    };
                    self.report(&record);
                    if !self.pause(pulls.delay_after(Duration::ZERO)).await {
                        break;
                    }
                    continue;
                }
            };
            let began = Instant::now();
            let started_at = now_rfc3339();
            record.state = State::Running {
                started_at: started_at.clone(),
            };
            record.container_id = running.id.clone();
            record.image_id = running.image_id.clone();
            record.restart_count = restarts;
            // Without a readiness or startup probe a running container is ready; init
            // containers never are.
            let main = matches!(self.slot, Slot::Main(_));
            record.ready = main && self.plan.probes.ready_at_start();
            self.report(&record);

            let _exec_target = self.node.exec_targets.register(
                self.pod
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default"),
                self.pod
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                &self.plan.name,
                running.exec(),
            );
            let (probe_events, mut probed) = mpsc::unbounded_channel();
            let probing = main.then(|| {
                let target = Target {
                    pod_ip: self.ips.pod.clone(),
                    exec: running.exec(),
                };
                self.plan.probes.start(target, probe_events)
            });
            let exit = loop {
                tokio::select! {
                    exit = running.wait() => break exit,
                    grace = stopping(&mut self.stop) => {
                        running.stop(grace);
                        break running.wait().await;
                    }
                    Some(event) = probed.recv() => match event {
                        ProbeEvent::Started => {
                            record.ready = self.plan.probes.readiness.is_none();
                            self.report(&record);
                        }
                        ProbeEvent::Ready(ready) => {
                            record.ready = ready;
                            self.report(&record);
                        }
                        ProbeEvent::Unhealthy(message) => {
                            tracing::info!(pod = %self.pod_id, container = %self.plan.name,
                                "{message}; the container will be restarted");
                            running.stop(self.grace);
                        }
                    },
                }
            };
            drop(probing);
            last_code = Some(exit.code);
            let terminated = Terminated {
                exit_code: exit.code,
                reason: exit.reason.to_string(),
                message: exit.message,
                started_at,
                finished_at: now_rfc3339(),
                container_id: running.id.clone(),
            };
            record.ready = false;
            let again = self.stop.borrow().is_none()
                && match self.slot {
                    Slot::Init(_) => exit.code != 0 && self.policy != RestartPolicy::Never,
                    Slot::Main(_) => self.policy.restarts(exit.code),
                };
            if !again {
                record.state = State::Terminated(terminated);
                self.report(&record);
                break;
            }
            let delay = crashes.delay_after(began.elapsed());
            record.last_state = Some(terminated);
            record.state = State::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(format!(
                    "back-off {}s restarting failed container={} pod={}",
                    delay.as_secs_f64().ceil(),
                    self.plan.name,
                    self.pod_id
                )),
            };
            self.report(&record);
            if !self.pause(delay).await {
                break;
            }
            run += 1;
            restarts += 1;
        }
        let _ = self.reports.send(Report::Ended(self.slot, last_code));
    }

    /// The environment and log of run `run`, or the waiting reason and message that stop it.
    async fn prepare(&self, run: u32) -> Result<ContainerSpec, (&'static str, String)> {
        let env = env::resolve(&self.node.client, &self.pod, &self.spec, &self.ips)
            .await
            .map_err(|m| ("CreateContainerConfigError", m))?;
        let mounts = volumes::mounts(
            &self.node.client,
            &self.pod,
            &self.spec,
            self.logs.pod_dir(),
        )
        .await
        .map_err(|m| ("CreateContainerConfigError", m))?;
        let log = self
            .logs
            .open_run(run)
            .map_err(|m| ("CreateContainerError", m))?;
        let meta = |field: &str| {
            self.pod
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        Ok(ContainerSpec {
            id: format!("{}-{}-{run}", meta("uid"), self.plan.name),
            name: self.plan.name.clone(),
            image: self.plan.image.clone(),
            command: self.plan.command.clone(),
            args: self.plan.args.clone(),
            working_dir: self.plan.working_dir.clone(),
            hostname: meta("name").to_string(),
            network_namespace: self.network_namespace.clone(),
            mounts,
            env,
            cpu_millis: self.plan.cpu_millis,
            memory_bytes: self.plan.memory_bytes,
            log,
        })
    }

    /// Waits `delay`; `false` if the pod began stopping meanwhile.
    async fn pause(&mut self, delay: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            _ = stopping(&mut self.stop) => false,
        }
    }

    fn report(&self, record: &ContainerRecord) {
        let _ = self
            .reports
            .send(Report::Changed(self.slot, Box::new(record.clone())));
    }

    /// The restarts the pod's status counts for this container when the task starts: its
    /// `restartCount`, plus one if it had run (this run is then a restart).
    fn earlier_restarts(&self) -> u32 {
        let field = match self.slot {
            Slot::Init(_) => "initContainerStatuses",
            Slot::Main(_) => "containerStatuses",
        };
        let Some(status) = self
            .pod
            .pointer(&format!("/status/{field}"))
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter()
                    .find(|c| c.get("name").and_then(Value::as_str) == Some(&self.plan.name))
            })
        else {
            return 0;
        };
        let count = status
            .get("restartCount")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
        let ran = status
            .get("containerID")
            .and_then(Value::as_str)
            .is_some_and(|id| !id.is_empty());
        count + u32::from(ran)
    }
}

/// Completes when the pod begins stopping, with the grace period its containers get (or
/// when its worker is gone, with none).
async fn stopping(stop: &mut watch::Receiver<Option<Duration>>) -> Duration {
    match stop.wait_for(Option::is_some).await {
        Ok(grace) => grace.unwrap_or_default(),
        Err(_) => Duration::ZERO,
    }
}
