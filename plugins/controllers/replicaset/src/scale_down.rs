//! Which pods go first when a ReplicaSet has too many: Kubernetes' `getPodsToDelete` over
//! `ActivePodsWithRanks`, as the ReplicaSet documentation's "Scaling a ReplicaSet" describes.
//!
//! A pod is deleted before another when, comparing in this order:
//! 1. it is unassigned (no `spec.nodeName`) and the other is assigned;
//! 2. its phase comes earlier: `Pending` < `Unknown` < `Running`;
//! 3. it is not ready and the other is;
//! 4. its `controller.kubernetes.io/pod-deletion-cost` is lower (unset or invalid is 0);
//! 5. more related active pods share its node (related: the pods of every ReplicaSet with
//!    the same controller, such as all the ReplicaSets of one Deployment);
//! 6. both ready: it became ready more recently (an unknown time counts as most recent);
//! 7. its containers restarted more (then its sidecars restarted more);
//! 8. it was created more recently (an unknown time counts as most recent).
//!
//! Times in 6 and 8 are compared on Kubernetes' logarithmic scale (`LogarithmicScaleDown`,
//! GA since 1.31): two times whose ages (in nanoseconds) have the same integer base-2
//! logarithm are equal, and the pod with the smaller uid goes first. Pods equal on every
//! rule keep their order (name order); Kubernetes picks among them at random.

use std::collections::{HashMap, HashSet};

use keel_sdk::controller::{objects, time};
use keel_sdk::json::At;
use keel_sdk::labels::Selector;
use serde_json::Value;

/// The annotation with which a pod says how costly its deletion is.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `count` pods of `owned` (a ReplicaSet's active pods) to delete, best candidates
/// first; `related` are the pods that count towards rule 5.
pub fn pods_to_delete<'a>(
    owned: &'a [Value],
    related: &[&Value],
    count: usize,
    now_millis: u64,
) -> Vec<&'a Value> {
    if count >= owned.len() {
        return owned.iter().collect();
    }
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|p| objects::pod_is_active(p)) {
        *on_node.entry(node_name(pod)).or_default() += 1;
    }
    let ranked: Vec<Ranked<'a>> = owned
        .iter()
        .map(|pod| Ranked::of(pod, on_node.get(node_name(pod)).copied().unwrap_or(0)))
        .collect();
    merge_sort(ranked, &|a, b| a.deletes_before(b, now_millis))
        .into_iter()
        .take(count)
        .map(|ranked| ranked.pod)
        .collect()
}

/// The pods related to `rs` (`getIndirectlyRelatedPods`): those its selector or the
/// selector of another ReplicaSet in `replica_sets` with the same controller matches, among
/// `pods` (the namespace's). A ReplicaSet without a controller has none.
pub fn related_pods<'a>(rs: &Value, replica_sets: &[Value], pods: &'a [Value]) -> Vec<&'a Value> {
    let Some(controller) = objects::controller_ref(rs) else {
        return Vec::new();
    };
    let namespace = objects::namespace(rs);
    let selectors: Vec<Selector> = replica_sets
        .iter()
        .filter(|other| objects::namespace(other) == namespace)
        .filter(|other| {
            objects::controller_ref(other).is_some_and(|owner| owner.uid == controller.uid)
        })
        .filter_map(|other| objects::selector_at(other, "/spec/selector").ok())
        .collect();
    let mut seen = HashSet::new();
    pods.iter()
        .filter(|pod| objects::namespace(pod) == namespace)
        .filter(|pod| {
            let labels = objects::labels(pod);
            selectors.iter().any(|selector| selector.matches(&labels))
        })
        .filter(|pod| seen.insert(objects::uid(pod)))
        .collect()
}

/// A pod with what the comparison reads.
struct Ranked<'a> {
    pod: &'a Value,
    node_name: &'a str,
    phase: u8,
    ready: bool,
    deletion_cost: i32,
    on_same_node: usize,
    ready_since: Option<u64>,
    restarts: (u64, u64),
    created: Option<u64>,
    uid: &'a str,
}

impl<'a> Ranked<'a> {
    fn of(pod: &'a Value, on_same_node: usize) -> Ranked<'a> {
        let ready = objects::pod_is_ready(pod);
        Ranked {
            pod,
            node_name: node_name(pod),
            phase: phase_ordinal(pod),
            ready,
            deletion_cost: deletion_cost(pod),
            on_same_node,
            ready_since: if ready { ready_since(pod) } else { None },
            restarts: max_restarts(pod),
            created: timestamp(pod.at("/metadata/creationTimestamp")),
            uid: objects::uid(pod),
        }
    }

    /// `ActivePodsWithRanks.Less`: whether `self` is the better pod to delete.
    fn deletes_before(&self, other: &Ranked<'_>, now_millis: u64) -> bool {
        if self.node_name != other.node_name
            && (self.node_name.is_empty() || other.node_name.is_empty())
        {
            return self.node_name.is_empty();
        }
        if self.phase != other.phase {
            return self.phase < other.phase;
        }
        if self.ready != other.ready {
            return !self.ready;
        }
        if self.deletion_cost != other.deletion_cost {
            return self.deletion_cost < other.deletion_cost;
        }
        if self.on_same_node != other.on_same_node {
            return self.on_same_node > other.on_same_node;
        }
        if self.ready
            && other.ready
            && let Some(first) = newer_on_log_scale(self.ready_since, other.ready_since, now_millis)
        {
            return first.unwrap_or(self.uid < other.uid);
        }
        if self.restarts.0 != other.restarts.0 {
            return self.restarts.0 > other.restarts.0;
        }
        if self.restarts.1 != other.restarts.1 {
            return self.restarts.1 > other.restarts.1;
        }
        if let Some(first) = newer_on_log_scale(self.created, other.created, now_millis) {
            return first.unwrap_or(self.uid < other.uid);
        }
        false
    }
}

/// Compares two times (None: the zero time) as `ActivePodsWithRanks.Less` does with
/// `LogarithmicScaleDown`: None when they are equal (the next rule decides);
/// `Some(Some(first))` whether `a` goes first (is newer, or is the zero time);
/// `Some(None)` when they differ but fall in the same logarithmic bucket (the uid decides).
fn newer_on_log_scale(a: Option<u64>, b: Option<u64>, now_millis: u64) -> Option<Option<bool>> {
    if a == b {
        return None;
    }
    let (Some(a), Some(b)) = (a, b) else {
        return Some(Some(a.is_none()));
    };
    let difference = log2_age(a, now_millis) - log2_age(b, now_millis);
    Some((difference != 0).then_some(difference < 0))
}

/// `logarithmicRankDiff`'s rank of one time: the integer base-2 logarithm of its age in
/// nanoseconds, -1 for a time not in the past.
fn log2_age(at_millis: u64, now_millis: u64) -> i64 {
    let age_nanos = u128::from(now_millis.saturating_sub(at_millis)) * 1_000_000;
    match age_nanos.checked_ilog2() {
        Some(log) => i64::from(log),
        None => -1,
    }
}

/// `spec.nodeName` ("" when unassigned).
fn node_name(pod: &Value) -> &str {
    pod.at("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `podPhaseToOrdinal`: Pending 0, Unknown 1, Running 2 (any other phase 0).
fn phase_ordinal(pod: &Value) -> u8 {
    match pod.at("/status/phase").and_then(Value::as_str) {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

/// `GetDeletionCostFromPodAnnotations`, with an invalid value read as 0 as the sort does.
fn deletion_cost(pod: &Value) -> i32 {
    pod.at("/metadata/annotations")
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(Value::as_str)
        .and_then(|cost| cost.parse().ok())
        .unwrap_or(0)
}

/// `podReadyTime`: when the `Ready` condition last became `True`.
fn ready_since(pod: &Value) -> Option<u64> {
    timestamp(objects::condition(pod, "Ready")?.get("lastTransitionTime"))
}

fn timestamp(value: Option<&Value>) -> Option<u64> {
    value.and_then(Value::as_str).and_then(time::parse_rfc3339)
}

/// `maxContainerRestarts`: the most restarts of a container, and of a sidecar (an init
/// container with `restartPolicy: Always`).
fn max_restarts(pod: &Value) -> (u64, u64) {
    let restarts = |statuses: &str, counts: &dyn Fn(&str) -> bool| {
        pod.at(statuses)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|s| counts(s.get("name").and_then(Value::as_str).unwrap_or_default()))
            .filter_map(|s| s.get("restartCount").and_then(Value::as_u64))
            .max()
            .unwrap_or(0)
    };
    let sidecars: HashSet<&str> = pod
        .at("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("restartPolicy").and_then(Value::as_str) == Some("Always"))
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    (
        restarts("/status/containerStatuses", &|_| true),
        restarts("/status/initContainerStatuses", &|name| {
            sidecars.contains(name)
        }),
    )
}

/// A stable merge sort by `less`. Kubernetes' ordering is not always transitive (the
/// logarithmic buckets), and the standard library's sorts may panic on such an order; this
/// one cannot.
fn merge_sort<T>(mut items: Vec<T>, less: &dyn Fn(&T, &T) -> bool) -> Vec<T> {
    if items.len() <= 1 {
        return items;
    }
    let right = items.split_off(items.len() / 2);
    let left = merge_sort(items, less);
    let right = merge_sort(right, less);
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_right = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => less(r, l),
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let next = if take_right {
            right.next()
        } else {
            left.next()
        };
        merged.extend(next);
    }
    merged
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// 2026-01-01T00:00:00Z.
    const NOW: u64 = 1_767_225_600_000;

    fn at(seconds_ago: u64) -> String {
        time::format_rfc3339(NOW - seconds_ago * 1000)
    }

    /// A running, ready pod on node n1, created an hour ago and ready since then.
    fn pod(name: &str) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                         "creationTimestamp": at(3600)},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": at(3600)}]},
        })
    }

    fn not_ready(mut pod: Value) -> Value {
        pod["status"]["conditions"][0]["status"] = json!("False");
        pod
    }

    fn names(pods: &[&Value]) -> Vec<String> {
        pods.iter().map(|p| objects::name(p).to_string()).collect()
    }

    /// The order `pods` are deleted in, all of them ranked (one is kept so the sort runs).
    fn order(pods: &[Value]) -> Vec<String> {
        let mut keeper = pod("zz-keeper");
        keeper["metadata"]["creationTimestamp"] = json!(at(1_000_000));
        let mut all = pods.to_vec();
        all.push(keeper);
        names(&pods_to_delete(&all, &[], pods.len(), NOW))
    }

    /// getPodsToDelete: no sort when every pod goes.
    #[test]
    fn deleting_all_takes_all() {
        let pods = [pod("a"), pod("b")];
        assert_eq!(names(&pods_to_delete(&pods, &[], 2, NOW)), ["a", "b"]);
        assert_eq!(names(&pods_to_delete(&pods, &[], 5, NOW)), ["a", "b"]);
        assert!(pods_to_delete(&pods, &[], 0, NOW).is_empty());
    }

    /// Rule 1: unassigned < assigned.
    #[test]
    fn unassigned_pods_go_before_assigned_ones() {
        let mut unassigned = pod("b");
        unassigned["spec"] = json!({});
        let mut pending_assigned = pod("a");
        pending_assigned["status"]["phase"] = json!("Pending");
        assert_eq!(order(&[pending_assigned, unassigned]), ["b", "a"]);
    }

    /// Rule 2: PodPending < PodUnknown < PodRunning.
    #[test]
    fn pending_before_unknown_before_running() {
        let mut pending = pod("c");
        pending["status"]["phase"] = json!("Pending");
        let mut unknown = pod("b");
        unknown["status"]["phase"] = json!("Unknown");
        let running = pod("a");
        assert_eq!(order(&[running, unknown, pending]), ["c", "b", "a"]);
    }

    /// Rule 3: not ready < ready.
    #[test]
    fn not_ready_before_ready() {
        let ready = pod("a");
        let unready = not_ready(pod("b"));
        assert_eq!(order(&[ready, unready]), ["b", "a"]);
    }

    /// Rule 4 (pod deletion cost): lower cost first; unset is 0, invalid is read as 0.
    #[test]
    fn lower_deletion_cost_first() {
        let mut high = pod("a");
        high["metadata"]["annotations"] = json!({POD_DELETION_COST: "100"});
        let mut low = pod("b");
        low["metadata"]["annotations"] = json!({POD_DELETION_COST: "-5"});
        let mut invalid = pod("c");
        invalid["metadata"]["annotations"] = json!({POD_DELETION_COST: "lots"});
        let pods = [high, invalid, low];
        assert_eq!(names(&pods_to_delete(&pods, &[], 2, NOW)), ["b", "c"]);
    }

    /// Rule 5: pods on a node with more related pods ("doubled up") first.
    #[test]
    fn doubled_up_pods_first() {
        let mut alone = pod("a");
        alone["spec"]["nodeName"] = json!("n2");
        let crowded = pod("b");
        let mut sibling = pod("sibling");
        sibling["metadata"]["uid"] = json!("uid-sibling");
        let mut finished = pod("finished");
        finished["spec"]["nodeName"] = json!("n2");
        finished["status"]["phase"] = json!("Succeeded");
        let owned = [alone.clone(), crowded.clone()];
        let related = [&alone, &crowded, &sibling, &finished, &finished];
        assert_eq!(names(&pods_to_delete(&owned, &related, 1, NOW)), ["b"]);
        // Without related pods, the tie goes on to the later rules (name order here).
        assert_eq!(names(&pods_to_delete(&owned, &[], 1, NOW)), ["a"]);
    }

    /// Rule 6: ready for less time first, on the logarithmic scale; an unknown ready time
    /// counts as the most recent.
    #[test]
    fn ready_more_recently_first() {
        let mut recent = pod("a");
        recent["status"]["conditions"][0]["lastTransitionTime"] = json!(at(10));
        let mut older = pod("b");
        older["status"]["conditions"][0]["lastTransitionTime"] = json!(at(1000));
        let mut unknown = pod("c");
        unknown["status"]["conditions"][0] = json!({"type": "Ready", "status": "True"});
        assert_eq!(order(&[older, recent, unknown]), ["c", "a", "b"]);
    }

    /// Rule 6 with LogarithmicScaleDown: times in the same power-of-two bucket are equal and
    /// the smaller uid goes first; the later rules are not consulted.
    #[test]
    fn ready_times_in_one_bucket_are_ordered_by_uid() {
        // 2^41 ns is about 2199 s and 2^42 ns about 4398 s: both ages are in bucket 41.
        let mut a = pod("a");
        a["metadata"]["uid"] = json!("uid-2");
        a["status"]["conditions"][0]["lastTransitionTime"] = json!(at(2300));
        let mut b = pod("b");
        b["metadata"]["uid"] = json!("uid-1");
        b["status"]["conditions"][0]["lastTransitionTime"] = json!(at(4000));
        a["status"]["containerStatuses"] = json!([{"name": "c", "restartCount": 9}]);
        assert_eq!(order(&[a, b]), ["b", "a"]);
        assert_eq!(log2_age(NOW - 2_300_000, NOW), 41);
        assert_eq!(log2_age(NOW - 4_000_000, NOW), 41);
        assert_eq!(log2_age(NOW, NOW), -1);
        assert_eq!(log2_age(NOW + 5, NOW), -1);
    }

    /// Rule 7: more container restarts first, then more sidecar restarts.
    #[test]
    fn more_restarts_first() {
        let mut few = pod("a");
        few["status"]["containerStatuses"] = json!([{"name": "c", "restartCount": 1}]);
        let mut many = pod("b");
        many["status"]["containerStatuses"] =
            json!([{"name": "c", "restartCount": 0}, {"name": "d", "restartCount": 4}]);
        let mut sidecar = pod("c");
        sidecar["status"]["containerStatuses"] = json!([{"name": "c", "restartCount": 1}]);
        sidecar["spec"]["initContainers"] = json!([
            {"name": "proxy", "restartPolicy": "Always"}, {"name": "setup"}]);
        sidecar["status"]["initContainerStatuses"] = json!([
            {"name": "proxy", "restartCount": 2}, {"name": "setup", "restartCount": 50}]);
        let mut init_only = pod("d");
        init_only["status"]["containerStatuses"] = json!([{"name": "c", "restartCount": 1}]);
        init_only["spec"]["initContainers"] = json!([{"name": "setup"}]);
        init_only["status"]["initContainerStatuses"] =
            json!([{"name": "setup", "restartCount": 50}]);
        assert_eq!(
            order(&[few, init_only, sidecar, many]),
            ["b", "c", "a", "d"]
        );
    }

    /// Rule 8: newer creationTimestamp first; an unknown one first of all.
    #[test]
    fn newer_pods_first() {
        let mut new = pod("a");
        new["metadata"]["creationTimestamp"] = json!(at(60));
        let old = pod("b");
        let mut unknown = pod("c");
        unknown["metadata"]["creationTimestamp"] = Value::Null;
        assert_eq!(order(&[old, new, unknown]), ["c", "a", "b"]);
    }

    /// The rules apply in order: an unassigned old ready pod goes before an assigned new
    /// pending one, which goes before a running not-ready one.
    #[test]
    fn earlier_rules_win() {
        let mut unassigned = pod("a");
        unassigned["spec"] = json!({});
        let mut pending = not_ready(pod("b"));
        pending["status"]["phase"] = json!("Pending");
        pending["metadata"]["creationTimestamp"] = json!(at(1));
        let mut costly_unready = not_ready(pod("c"));
        costly_unready["metadata"]["annotations"] = json!({POD_DELETION_COST: "1000"});
        let cheap_ready = pod("d");
        assert_eq!(
            order(&[cheap_ready, costly_unready, pending, unassigned]),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn related_pods_come_from_replica_sets_with_the_same_controller() {
        let owner = |uid: &str| {
            json!([{"apiVersion": "apps/v1", "kind": "Deployment",
                                         "name": "d", "uid": uid, "controller": true}])
        };
        let rs = |name: &str, app: &str, owner_uid: &str| {
            json!({
            "metadata": {"name": name, "namespace": "default", "ownerReferences": owner(owner_uid)},
            "spec": {"selector": {"matchLabels": {"app": app}}}})
        };
        let this = rs("web-1", "v1", "d1");
        let sibling = rs("web-2", "v2", "d1");
        let stranger = rs("other", "v3", "d2");
        let labelled = |name: &str, app: &str| {
            let mut p = pod(name);
            p["metadata"]["labels"] = json!({"app": app});
            p
        };
        let pods = [
            labelled("p1", "v1"),
            labelled("p2", "v2"),
            labelled("p3", "v3"),
        ];
        let replica_sets = [this.clone(), sibling, stranger];
        assert_eq!(
            names(&related_pods(&this, &replica_sets, &pods)),
            ["p1", "p2"]
        );
        let mut orphan = this.clone();
        orphan["metadata"]["ownerReferences"] = json!([]);
        assert!(related_pods(&orphan, &replica_sets, &pods).is_empty());
    }

    #[test]
    fn merge_sort_is_stable_and_total_on_any_order() {
        let sorted = merge_sort(vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd')], &|x, y| {
            x.0 < y.0
        });
        assert_eq!(sorted, [(1, 'b'), (2, 'd'), (3, 'a'), (3, 'c')]);
        // An inconsistent order neither panics nor loses items.
        let odd = merge_sort((0..50).collect(), &|x: &i32, y: &i32| (x + y) % 3 == 0);
        assert_eq!(odd.len(), 50);
    }
}
