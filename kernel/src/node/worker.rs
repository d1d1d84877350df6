//! One pod on the node, from the moment it is bound here until it is gone: init containers
//! one after another, then every container (each a [`ContainerTask`]), the pod's status
//! written whenever what the agent knows of it changes, and the end: when the pod is
//! deleted, its containers are stopped; when it is marked for deletion, they are stopped
//! within its grace period and the pod object is then removed (with its uid as a
//! precondition), as the kubelet finishes a graceful deletion.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::Node;
use super::container::{ContainerTask, Report, Slot};
use super::env::PodIps;
use super::logs::ContainerLogs;
use super::network::Attachment;
use super::runtime::Runtime;
use super::spec::{ContainerPlan, PodPlan};
use super::status::{ContainerRecord, PodRecord};
use crate::client::http::HttpError;
use crate::object::meta::{marked_for_deletion, now_rfc3339};
use crate::plugin::calls::PodRef;

/// How often a status write that failed is tried again.
const RETRY_WRITE: Duration = Duration::from_secs(1);
/// How often making a pod's network is tried again (no pod CIDR or plugin yet, say).
const RETRY_NETWORK: Duration = Duration::from_secs(2);

/// The handle the pod watcher keeps: the latest pod (`None` once deleted).
pub struct PodWorker {
    updates: watch::Sender<Option<Value>>,
}

impl PodWorker {
    /// Starts the worker of `pod`.
    pub fn start(node: Arc<Node>, pod: Value) -> PodWorker {
        let (updates, receiver) = watch::channel(Some(pod.clone()));
        tokio::spawn(run(node, pod, receiver));
        PodWorker { updates }
    }

    /// The pod changed.
    pub fn update(&self, pod: Value) {
        let _ = self.updates.send(Some(pod));
    }

    /// The pod is gone.
    pub fn deleted(&self) {
        let _ = self.updates.send(None);
    }
}

struct Pod {
    node: Arc<Node>,
    plan: PodPlan,
    /// The pod as last seen.
    object: Value,
    record: PodRecord,
    /// The status last written, to skip writes that change nothing.
    written: Option<Value>,
    reports: mpsc::UnboundedSender<Report>,
    /// `Some(grace)` once the pod is stopping: its containers get `grace` to stop.
    stop: watch::Sender<Option<Duration>>,
    tasks: JoinSet<()>,
    /// The pod's own network, once made (runc pods without `hostNetwork`).
    network: Option<Attachment>,
}

async fn run(node: Arc<Node>, first: Value, mut updates: watch::Receiver<Option<Value>>) {
    let (reports, mut received) = mpsc::unbounded_channel();
    let (stop, _) = watch::channel(None);
    let plan = match PodPlan::of(&first) {
        Ok(plan) => plan,
        Err(message) => {
            tracing::warn!("pod cannot run: {message}");
            return;
        }
    };
    let waiting_reason = if plan.init_containers.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let records = |list: &[ContainerPlan], reason: &str| -> Vec<ContainerRecord> {
        list.iter()
            .map(|c| ContainerRecord::waiting(&c.name, &c.image, reason))
            .collect()
    };
    let mut pod = Pod {
        record: PodRecord {
            init: records(&plan.init_containers, "PodInitializing"),
            containers: records(&plan.containers, waiting_reason),
            initialized: plan.init_containers.is_empty(),
            pod_ip: node.address.clone(),
            host_ip: node.address.clone(),
            start_time: now_rfc3339(),
            rejected: None,
        },
        node: node.clone(),
        plan,
        object: first,
        written: None,
        reports,
        stop,
        tasks: JoinSet::new(),
        network: None,
    };
    let runtime = match node
        .runtimes
        .for_pod(&node.client, pod.plan.runtime_class.as_deref())
        .await
    {
        Ok(runtime) => Some(runtime),
        Err(message) => {
            pod.record.rejected = Some(("RuntimeClassNotAvailable".into(), message));
            None
        }
    };
    if let Some(runtime) = &runtime
        && runtime.isolates_network()
        && !pod.plan.host_network
    {
        // No address until the pod's network is made, as a pod sandbox has none.
        pod.record.pod_ip.clear();
        pod.write_status().await;
        match pod.attach_network(&mut updates).await {
            Some(attachment) => {
                pod.record.pod_ip = attachment.address.to_string();
                pod.network = Some(attachment);
            }
            None => return,
        }
    }
    if let Some(runtime) = &runtime {
        match pod.plan.init_containers.is_empty() {
            true => pod.start_containers(runtime),
            false => pod.start(runtime, Slot::Init(0)),
        }
    }
    pod.write_status().await;
    let mut deleting = false;
    loop {
        tokio::select! {
            Some(report) = received.recv() => {
                pod.handle(report, runtime.as_ref(), deleting);
                // Write once the reports queued so far are all in.
                while let Ok(report) = received.try_recv() {
                    pod.handle(report, runtime.as_ref(), deleting);
                }
                pod.write_status().await;
            }
            changed = updates.changed() => {
                let latest = if changed.is_ok() { updates.borrow_and_update().clone() } else { None };
                match latest {
                    None => {
                        pod.stop_all(pod.plan.grace).await;
                        pod.remove_logs();
                        if pod.network.is_some() {
                            node.networks.detach(&pod.plan.uid).await;
                        }
                        return;
                    }
                    Some(object) => {
                        pod.object = object;
                        let marked = marked_for_deletion(&pod.object);
                        if marked && !deleting {
                            deleting = true;
                            pod.stop_all(deletion_grace(&pod.object).unwrap_or(pod.plan.grace)).await;
                            while let Ok(report) = received.try_recv() {
                                pod.handle(report, runtime.as_ref(), deleting);
                            }
                            pod.write_status().await;
                            pod.delete_object().await;
                        }
                    }
                }
            }
            () = tokio::time::sleep(RETRY_WRITE), if pod.written.is_none() => {
                pod.write_status().await;
            }
        }
    }
}

impl Pod {
    /// Takes in one report: a container's new state, or an init container that completed
    /// (the next one starts, or the containers once all have; not while deleting).
    fn handle(&mut self, report: Report, runtime: Option<&Arc<dyn Runtime>>, deleting: bool) {
        match report {
            Report::Changed(slot, record) => self.set(slot, *record),
            Report::Ended(Slot::Init(i), Some(0)) if !deleting => {
                let Some(runtime) = runtime else { return };
                if i + 1 < self.plan.init_containers.len() {
                    self.start(runtime, Slot::Init(i + 1));
                } else {
                    self.record.initialized = true;
                    self.start_containers(runtime);
                }
            }
            Report::Ended(..) => {}
        }
    }

    fn start_containers(&mut self, runtime: &Arc<dyn Runtime>) {
        for i in 0..self.plan.containers.len() {
            self.start(runtime, Slot::Main(i));
        }
    }

    fn start(&mut self, runtime: &Arc<dyn Runtime>, slot: Slot) {
        let (plan, field, index) = match slot {
            Slot::Init(i) => (&self.plan.init_containers[i], "initContainers", i),
            Slot::Main(i) => (&self.plan.containers[i], "containers", i),
        };
        let spec = self
            .object
            .pointer(&format!("/spec/{field}/{index}"))
            .cloned()
            .unwrap_or(Value::Null);
        let task = ContainerTask {
            node: self.node.clone(),
            runtime: runtime.clone(),
            pod: self.object.clone(),
            pod_id: format!(
                "{}_{}({})",
                self.plan.name, self.plan.namespace, self.plan.uid
            ),
            spec,
            plan: plan.clone(),
            slot,
            policy: self.plan.restart_policy,
            grace: self.plan.grace,
            ips: PodIps {
                pod: self.record.pod_ip.clone(),
                host: self.node.address.clone(),
            },
            network_namespace: self
                .network
                .as_ref()
                .map(|n| n.namespace.display().to_string()),
            logs: ContainerLogs::new(
                &self.node.logs_root,
                &self.plan.namespace,
                &self.plan.name,
                &self.plan.uid,
                &plan.name,
            ),
            reports: self.reports.clone(),
            stop: self.stop.subscribe(),
        };
        self.tasks.spawn(task.run());
    }

    fn set(&mut self, slot: Slot, record: ContainerRecord) {
        let target = match slot {
            Slot::Init(i) => self.record.init.get_mut(i),
            Slot::Main(i) => self.record.containers.get_mut(i),
        };
        if let Some(target) = target {
            *target = record;
        }
    }

    /// Stops every container within `grace` and waits for them.
    async fn stop_all(&mut self, grace: Duration) {
        let _ = self.stop.send(Some(grace));
        let deadline = grace + Duration::from_secs(5);
        let _ = tokio::time::timeout(deadline, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }

    /// Makes the pod's network, trying again every [`RETRY_NETWORK`] until it is made;
    /// `None` when the pod is deleted meanwhile (or marked for deletion: it is then
    /// removed, as it never ran).
    async fn attach_network(
        &mut self,
        updates: &mut watch::Receiver<Option<Value>>,
    ) -> Option<Attachment> {
        let reference = PodRef {
            namespace: self.plan.namespace.clone(),
            name: self.plan.name.clone(),
            uid: self.plan.uid.clone(),
        };
        loop {
            match self.node.networks.attach(&reference).await {
                Ok(attachment) => return Some(attachment),
                Err(error) => tracing::warn!(
                    pod = %self.path(),
                    "cannot make the pod's network: {error}; retrying in {RETRY_NETWORK:?}"
                ),
            }
            tokio::select! {
                () = tokio::time::sleep(RETRY_NETWORK) => {}
                changed = updates.changed() => {
                    let latest = if changed.is_ok() { updates.borrow_and_update().clone() } else { None };
                    let object = latest?;
                    if marked_for_deletion(&object) {
                        self.object = object;
                        self.delete_object().await;
                        return None;
                    }
                    self.object = object;
                }
            }
        }
    }

    fn remove_logs(&self) {
        ContainerLogs::remove_pod(
            &self.node.logs_root,
            &self.plan.namespace,
            &self.plan.name,
            &self.plan.uid,
        );
    }

    fn path(&self) -> String {
        format!(
            "/api/v1/namespaces/{}/pods/{}",
            self.plan.namespace, self.plan.name
        )
    }

    /// Writes the status if it changed since the last write; a failed write leaves
    /// `written` empty, so it is tried again.
    async fn write_status(&mut self) {
        let status = self
            .record
            .status(&self.object, self.plan.restart_policy, &now_rfc3339());
        if self.written.as_ref() == Some(&status) {
            return;
        }
        let patch = json!({"metadata": {"uid": self.plan.uid}, "status": status});
        match self
            .node
            .client
            .merge_patch(&format!("{}/status", self.path()), &patch)
            .await
        {
            Ok(object) => {
                self.object = object;
                self.written = Some(status);
            }
            Err(HttpError::Status { code: 404, .. }) => self.written = Some(status),
            Err(error) => {
                tracing::warn!(pod = %self.path(), "cannot write pod status: {error}");
                self.written = None;
            }
        }
    }

    /// Removes the pod object once its containers stopped, guarded by its uid.
    async fn delete_object(&self) {
        let options = json!({
            "kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
            "preconditions": {"uid": self.plan.uid},
        });
        match self.node.client.delete(&self.path(), &options).await {
            Ok(_)
            | Err(HttpError::Status {
                code: 404 | 409, ..
            }) => {}
            Err(error) => tracing::warn!(pod = %self.path(), "cannot remove pod: {error}"),
        }
    }
}

/// The grace period a pod marked for deletion was given (`deletionGracePeriodSeconds`).
fn deletion_grace(pod: &Value) -> Option<Duration> {
    crate::object::meta::deletion_grace_seconds(pod)
        .and_then(|grace| u64::try_from(grace).ok())
        .map(Duration::from_secs)
}
