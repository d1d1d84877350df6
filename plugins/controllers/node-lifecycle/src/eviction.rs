//! Evicting the pods of an unreachable node once they stop tolerating its `NoExecute`
//! taint (Kubernetes' taint-based evictions): a pod is deleted at the taint's `timeAdded`
//! plus its toleration's seconds, never if it tolerates the taint without a limit.

use keel_sdk::controller::objects;
use keel_sdk::controller::{Action, View};
use keel_sdk::json::At;
use keel_sdk::labels::Selector;
use serde_json::Value;

use crate::taints::{NO_EXECUTE, UNREACHABLE};
use crate::tolerations::{Tolerance, tolerance};

/// What to do now about a node's pods, and when to look again.
#[derive(Debug, Default)]
pub struct Evictions {
    /// The deletes due now.
    pub due: Vec<Action>,
    /// Milliseconds until the earliest eviction not due yet.
    pub next_in_millis: Option<u64>,
}

/// The pods bound to `node_name` (every namespace) that are not being deleted.
pub fn pods_on(view: &dyn View, node_name: &str) -> Vec<Value> {
    view.list("", "Pod", "", &Selector::everything())
        .into_iter()
        .filter(|pod| {
            pod.at("/spec/nodeName").and_then(Value::as_str) == Some(node_name)
                && !objects::is_deleting(pod)
        })
        .collect()
}

/// When `pod` goes from a node tainted unreachable at `tainted_at` (None: never); a pod
/// without a matching toleration gets `default_seconds`, as the `DefaultTolerationSeconds`
/// admission plugin would have given it.
pub fn evicted_at(pod: &Value, tainted_at: u64, default_seconds: i64) -> Option<u64> {
    let seconds = match tolerance(pod, UNREACHABLE, "", NO_EXECUTE) {
        Tolerance::Forever => return None,
        Tolerance::Seconds(seconds) => seconds,
        Tolerance::None => u64::try_from(default_seconds).unwrap_or(0),
    };
    Some(tainted_at.saturating_add(seconds.saturating_mul(1000)))
}

/// The evictions of `pods` due at `now_millis`, for a node tainted at `tainted_at`.
pub fn plan(pods: &[Value], tainted_at: u64, default_seconds: i64, now_millis: u64) -> Evictions {
    let mut evictions = Evictions::default();
    for pod in pods {
        let Some(at) = evicted_at(pod, tainted_at, default_seconds) else {
            continue;
        };
        if at <= now_millis {
            evictions.due.push(Action::delete("", "Pod", pod, None));
        } else {
            let wait = at - now_millis;
            evictions.next_in_millis = Some(evictions.next_in_millis.map_or(wait, |n| n.min(wait)));
        }
    }
    evictions
}
