//! The pods bound to this node, followed through one watch (`spec.nodeName=<node>`), each
//! handed to its own [`PodWorker`] by uid: a new uid starts a worker, a change is passed
//! on, a deletion (or a pod missing from a relist) ends it. A pod already `Succeeded` or
//! `Failed` when first seen is left as it is.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::Node;
use super::worker::PodWorker;
use crate::client::{RemoteWatcher, WatchEvent};

/// Follows the node's pods until the task is dropped.
pub async fn follow(node: Arc<Node>) {
    let selector: String =
        form_urlencoded::byte_serialize(format!("spec.nodeName={}", node.name).as_bytes())
            .collect();
    let mut watcher = RemoteWatcher::new(
        node.client.clone(),
        "/api/v1/pods",
        &format!("fieldSelector={selector}"),
    );
    let mut workers: HashMap<String, PodWorker> = HashMap::new();
    loop {
        match watcher.next().await {
            WatchEvent::Restarted(pods) => {
                let present: HashMap<String, Value> = pods
                    .into_iter()
                    .map(Arc::unwrap_or_clone)
                    .filter_map(|pod| Some((uid(&pod)?.to_string(), pod)))
                    .collect();
                let uids = present.keys().cloned().collect();
                node.networks.keep_only(&uids).await;
                workers.retain(|uid, worker| {
                    let keep = present.contains_key(uid);
                    if !keep {
                        worker.deleted();
                    }
                    keep
                });
                for pod in present.into_values() {
                    applied(&node, &mut workers, pod);
                }
            }
            WatchEvent::Applied(pod) => applied(&node, &mut workers, Arc::unwrap_or_clone(pod)),
            WatchEvent::Deleted(pod) => {
                if let Some(worker) = uid(&pod).and_then(|uid| workers.remove(uid)) {
                    worker.deleted();
                }
            }
            WatchEvent::Bookmark(_) => {}
        }
    }
}

fn applied(node: &Arc<Node>, workers: &mut HashMap<String, PodWorker>, pod: Value) {
    let Some(uid) = uid(&pod).map(str::to_string) else {
        return;
    };
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    match workers.get(&uid) {
        Some(worker) => worker.update(pod),
        // A pod that finished (before this agent started) does not run again.
        None if matches!(phase, Some("Succeeded" | "Failed")) => {}
        None => {
            workers.insert(uid, PodWorker::start(node.clone(), pod));
        }
    }
}

fn uid(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/uid").and_then(Value::as_str)
}
