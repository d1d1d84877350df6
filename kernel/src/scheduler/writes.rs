//! What the scheduler writes through the registry: the binding of a pod to its node, and,
//! for a pod that fits nowhere, the `PodScheduled=False` condition and a
//! `FailedScheduling` Event, as kube-scheduler writes them.

use serde_json::{Value, json};

use super::pod::{PodInfo, PodKey};
use crate::object::ResourceType;
use crate::object::meta::now_rfc3339;
use crate::object::patch::PatchType;
use crate::registry::{ApiError, Objects, Part, WriteOptions};

/// The component name events and conditions carry.
pub const COMPONENT: &str = "default-scheduler";

/// The verbs and the kinds the scheduler writes, looked up once.
#[derive(Clone)]
pub struct Writer {
    objects: Objects,
    pods: &'static ResourceType,
    events: &'static ResourceType,
}

impl Writer {
    /// A writer through `objects`; `None` when the registry serves no pods or events.
    pub fn new(objects: Objects) -> Option<Writer> {
        let kind = |plural| objects.kinds().by_path("", "v1", plural);
        Some(Writer {
            pods: kind("pods")?,
            events: kind("events")?,
            objects,
        })
    }

    /// POST `pods/{name}/binding` to `node`, guarded by the pod's uid.
    pub async fn bind(&self, key: &PodKey, uid: &str, node: &str) -> Result<(), ApiError> {
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": key.name, "namespace": key.namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        self.objects
            .bind(
                self.pods,
                Some(&key.namespace),
                &key.name,
                &binding,
                WriteOptions::default(),
            )
            .await
            .map(drop)
    }

    /// Writes that `pod` could not be scheduled, and why: its `PodScheduled` condition and a
    /// `FailedScheduling` Warning Event. `unschedulable` tells a pod that fits nowhere
    /// (reason `Unschedulable`) from a failed attempt (reason `SchedulerError`).
    pub async fn report_failure(
        &self,
        pod: &PodInfo,
        message: &str,
        unschedulable: bool,
    ) -> Result<(), ApiError> {
        let now = now_rfc3339();
        let reason = if unschedulable {
            "Unschedulable"
        } else {
            "SchedulerError"
        };
        let condition = json!({"status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": Value::Null,
            "lastTransitionTime": now,
        }]}});
        self.objects
            .patch(
                self.pods,
                Some(&pod.key.namespace),
                &pod.key.name,
                PatchType::Strategic,
                &condition,
                Part::Status,
                WriteOptions::default(),
            )
            .await?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{}.{nanos:x}", pod.key.name), "namespace": pod.key.namespace},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": pod.key.namespace,
                               "name": pod.key.name, "uid": pod.uid},
            "reason": "FailedScheduling",
            "message": message,
            "type": "Warning",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        });
        self.objects
            .create(
                self.events,
                Some(&pod.key.namespace),
                event,
                WriteOptions::default(),
            )
            .await
            .map(drop)
    }
}
