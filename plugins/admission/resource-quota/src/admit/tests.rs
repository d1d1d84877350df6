//! Scenario tests of the plugin's answers, one request at a time against a fake cache, each
//! citing the documented ResourceQuota behaviour it covers.

use std::collections::BTreeMap;

use keel_sdk::admission::UserInfo;
use serde_json::json;

use super::*;

#[derive(Default)]
struct Fake(BTreeMap<&'static str, Vec<Value>>);

impl Objects for Fake {
    fn list(&self, kind: &str) -> Vec<Value> {
        self.0.get(kind).cloned().unwrap_or_default()
    }
}

impl Fake {
    fn with(mut self, kind: &'static str, objects: Vec<Value>) -> Fake {
        self.0.entry(kind).or_default().extend(objects);
        self
    }
}

fn request(operation: Operation, kind: &str, resource: &str, name: &str) -> Request {
    Request {
        uid: "u".into(),
        operation,
        group: String::new(),
        version: "v1".into(),
        kind: kind.into(),
        resource: resource.into(),
        subresource: None,
        namespace: "team".into(),
        name: name.into(),
        user: UserInfo {
            username: "alice".into(),
            groups: vec![],
        },
        object: None,
        old_object: None,
        dry_run: false,
    }
}

fn create(kind: &str, resource: &str, object: &Value) -> Request {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let mut r = request(Operation::Create, kind, resource, name);
    r.object = Some(object.to_string());
    r
}

fn delete(kind: &str, resource: &str, old: &Value) -> Request {
    let name = old["metadata"]["name"].as_str().unwrap_or_default();
    let mut r = request(Operation::Delete, kind, resource, name);
    r.old_object = Some(old.to_string());
    r
}

fn pod(name: &str, requests: Value, limits: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "team"},
        "spec": {"containers": [{"name": "web", "image": "nginx",
            "resources": {"requests": requests, "limits": limits}}]}})
}

/// A quota with a current status.
fn quota(name: &str, rv: &str, hard: Value, used: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": "team", "resourceVersion": rv},
        "spec": {"hard": hard.clone()}, "status": {"hard": hard, "used": used}})
}

fn answer(request: &Request, objects: &Fake) -> Answer {
    match validate(request, objects) {
        Ok(answer) => answer,
        Err(e) => panic!("{}", e.message),
    }
}

fn denied(answer: &Answer) -> Option<(u16, &str)> {
    answer
        .verdict
        .denied
        .as_ref()
        .map(|d| (d.code, d.message.as_str()))
}

fn updates(answer: &Answer) -> Vec<Value> {
    answer
        .verdict
        .status_updates
        .iter()
        .map(|u| match serde_json::from_str(u) {
            Ok(v) => v,
            Err(e) => panic!("status update is not JSON: {e}"),
        })
        .collect()
}

fn compute_quota() -> Value {
    quota(
        "compute-quota",
        "41",
        json!({"pods": "2", "requests.cpu": "2"}),
        json!({"pods": "1", "requests.cpu": "1"}),
    )
}

/// "If creating or updating a resource violates a quota constraint, the request will fail
/// with HTTP status code 403 FORBIDDEN with a message explaining the constraint that would
/// have been violated" — Kubernetes' exact wording, exceeded resources only.
#[test]
fn a_create_over_the_quota_is_forbidden() {
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "compute-quota",
            "41",
            json!({"pods": "2", "requests.cpu": "2", "requests.memory": "8Gi"}),
            json!({"pods": "2", "requests.cpu": "1600m", "requests.memory": "1Gi"}),
        )],
    );
    let p = pod("web", json!({"cpu": "500m", "memory": "1Gi"}), json!({}));
    let a = answer(&create("Pod", "pods", &p), &objects);
    // requests.memory (2Gi of 8Gi) is within its limit, so it is not listed.
    assert_eq!(
        denied(&a),
        Some((
            403,
            "exceeded quota: compute-quota, requested: pods=1,requests.cpu=500m, used: pods=2,requests.cpu=1600m, limited: pods=2,requests.cpu=2"
        ))
    );
    assert!(a.verdict.status_updates.is_empty());
}

/// Within the quota: allowed, charged through a status update that is the cached quota
/// (resourceVersion kept, the host's guard) with status.used raised.
#[test]
fn a_create_within_the_quota_is_charged_in_a_status_update() {
    let objects = Fake::default().with("ResourceQuota", vec![compute_quota()]);
    let p = pod("web", json!({"cpu": "500m"}), json!({}));
    let a = answer(&create("Pod", "pods", &p), &objects);
    assert_eq!(denied(&a), None);
    assert_eq!(
        updates(&a),
        [json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "compute-quota", "namespace": "team", "resourceVersion": "41"},
            "spec": {"hard": {"pods": "2", "requests.cpu": "2"}},
            "status": {"hard": {"pods": "2", "requests.cpu": "2"},
                       "used": {"pods": "2", "requests.cpu": "1500m"}}})]
    );
}

/// Exactly at the limit is allowed ("usage must not exceed hard").
#[test]
fn reaching_the_limit_exactly_is_allowed() {
    let objects = Fake::default().with("ResourceQuota", vec![compute_quota()]);
    let p = pod("web", json!({"cpu": "1"}), json!({}));
    let a = answer(&create("Pod", "pods", &p), &objects);
    assert_eq!(denied(&a), None);
    assert_eq!(
        updates(&a)[0]["status"]["used"],
        json!({"pods": "2", "requests.cpu": "2"})
    );
}

/// "If quota is enabled in a namespace for compute resources like cpu and memory, users
/// must specify requests or limits for those values; otherwise, the quota system may reject
/// pod creation."
#[test]
fn a_pod_must_set_the_compute_resources_a_quota_constrains() {
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "compute-quota",
            "1",
            json!({"requests.cpu": "2", "limits.cpu": "4", "pods": "10"}),
            json!({"requests.cpu": "0", "limits.cpu": "0", "pods": "0"}),
        )],
    );
    let bare = pod("web", json!({}), json!({}));
    let a = answer(&create("Pod", "pods", &bare), &objects);
    assert_eq!(
        denied(&a),
        Some((
            403,
            "failed quota: compute-quota: must specify limits.cpu for: web; requests.cpu for: web"
        ))
    );
    // A limit alone also sets the request (pod defaulting), so it is enough.
    let limited = pod("web", json!({}), json!({"cpu": "1"}));
    let a = answer(&create("Pod", "pods", &limited), &objects);
    assert_eq!(denied(&a), None);
    assert_eq!(
        updates(&a)[0]["status"]["used"],
        json!({"limits.cpu": "1", "pods": "1", "requests.cpu": "1"})
    );
    // A quota on pods alone asks nothing of containers.
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "pods",
            "1",
            json!({"pods": "10"}),
            json!({"pods": "0"}),
        )],
    );
    assert_eq!(
        denied(&answer(&create("Pod", "pods", &bare), &objects)),
        None
    );
}

/// A new quota (no status yet): usage is recounted from the cached pods, then the pod is
/// added. Finished pods do not count.
#[test]
fn a_new_quota_is_recounted_from_the_cache() {
    let fresh = json!({"apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": "team", "resourceVersion": "9"},
        "spec": {"hard": {"pods": "3", "requests.memory": "1Gi"}}});
    let mut done = pod("done", json!({"memory": "512Mi"}), json!({}));
    done["status"] = json!({"phase": "Failed"});
    let objects = Fake::default().with("ResourceQuota", vec![fresh]).with(
        "Pod",
        vec![
            pod("a", json!({"memory": "256Mi"}), json!({})),
            pod("b", json!({"memory": "256Mi"}), json!({})),
            done,
        ],
    );
    let p = pod("c", json!({"memory": "256Mi"}), json!({}));
    let a = answer(&create("Pod", "pods", &p), &objects);
    assert_eq!(denied(&a), None);
    let updates = updates(&a);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["metadata"]["resourceVersion"], "9");
    assert_eq!(
        updates[0]["status"],
        json!({"hard": {"pods": "3", "requests.memory": "1Gi"},
               "used": {"pods": "3", "requests.memory": "768Mi"}})
    );
    // One more would go over the recounted usage.
    let d = pod("d", json!({"memory": "1Mi"}), json!({}));
    let objects = objects.with("Pod", vec![p]);
    assert_eq!(
        denied(&answer(&create("Pod", "pods", &d), &objects)),
        Some((
            403,
            "exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3"
        ))
    );
}

/// An edited quota (status.hard no longer spec.hard) is recounted, not trusted.
#[test]
fn an_edited_quota_is_recounted() {
    let mut edited = quota(
        "q",
        "12",
        json!({"configmaps": "5"}),
        json!({"configmaps": "4"}),
    );
    edited["spec"]["hard"] = json!({"configmaps": "5", "secrets": "2"});
    let objects = Fake::default()
        .with("ResourceQuota", vec![edited])
        .with("ConfigMap", vec![json!({"metadata": {"name": "one"}})])
        .with("Secret", vec![json!({"metadata": {"name": "s"}})]);
    let cm = json!({"metadata": {"name": "two"}, "data": {}});
    let a = answer(&create("ConfigMap", "configmaps", &cm), &objects);
    assert_eq!(denied(&a), None);
    assert_eq!(
        updates(&a)[0]["status"],
        json!({"hard": {"configmaps": "5", "secrets": "2"}, "used": {"configmaps": "2", "secrets": "1"}})
    );
}

/// "When a pod is deleted, its usage is released": a delete gives usage back, never
/// below zero, and is never denied.
#[test]
fn a_delete_releases_its_usage() {
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "compute-quota",
            "41",
            json!({"pods": "2", "requests.cpu": "2", "limits.memory": "1Gi"}),
            json!({"pods": "2", "requests.cpu": "300m", "limits.memory": "0"}),
        )],
    );
    let p = pod("web", json!({"cpu": "500m"}), json!({"memory": "128Mi"}));
    let a = answer(&delete("Pod", "pods", &p), &objects);
    assert_eq!(denied(&a), None);
    let updates = updates(&a);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["metadata"]["resourceVersion"], "41");
    assert_eq!(
        updates[0]["status"]["used"],
        json!({"limits.memory": "0", "pods": "1", "requests.cpu": "0"})
    );
}

/// A delete against a quota needing a recount: recounted (the cache still holds the
/// object), then the object taken off.
#[test]
fn a_delete_against_a_new_quota_recounts_then_releases() {
    let fresh = json!({"metadata": {"name": "q", "resourceVersion": "3"}, "spec": {"hard": {"secrets": "10"}}});
    let s = json!({"metadata": {"name": "s1"}});
    let objects = Fake::default().with("ResourceQuota", vec![fresh]).with(
        "Secret",
        vec![s.clone(), json!({"metadata": {"name": "s2"}})],
    );
    let a = answer(&delete("Secret", "secrets", &s), &objects);
    assert_eq!(updates(&a)[0]["status"]["used"], json!({"secrets": "1"}));
}

/// `count/<resource>.<group>`: "the total number of objects of the given type" for any
/// kind, including ones the cache does not hold (their recorded usage is kept).
#[test]
fn object_counts_for_any_kind() {
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "counts",
            "5",
            json!({"count/deployments.apps": "2", "count/pods": "9"}),
            json!({"count/deployments.apps": "1", "count/pods": "0"}),
        )],
    );
    let mut deploy = request(Operation::Create, "Deployment", "deployments", "d");
    deploy.group = "apps".into();
    deploy.object = Some(json!({"metadata": {"name": "d"}}).to_string());
    let a = answer(&deploy, &objects);
    assert_eq!(
        updates(&a)[0]["status"]["used"],
        json!({"count/deployments.apps": "2", "count/pods": "0"})
    );
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "counts",
            "6",
            json!({"count/deployments.apps": "2"}),
            json!({"count/deployments.apps": "2"}),
        )],
    );
    assert_eq!(
        denied(&answer(&deploy, &objects)),
        Some((
            403,
            "exceeded quota: counts, requested: count/deployments.apps=1, used: count/deployments.apps=2, limited: count/deployments.apps=2"
        ))
    );
}

/// Extended resources: "requests.nvidia.com/gpu" is charged with the container's request;
/// a quota on something the object does not use is left alone.
#[test]
fn extended_resources_and_untouched_quotas() {
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![
            quota(
                "gpu",
                "1",
                json!({"requests.nvidia.com/gpu": "4"}),
                json!({"requests.nvidia.com/gpu": "3"}),
            ),
            quota(
                "storage",
                "2",
                json!({"requests.storage": "10Gi"}),
                json!({"requests.storage": "0"}),
            ),
        ],
    );
    let p = pod(
        "train",
        json!({"nvidia.com/gpu": "2"}),
        json!({"nvidia.com/gpu": "2"}),
    );
    let a = answer(&create("Pod", "pods", &p), &objects);
    assert_eq!(
        denied(&a),
        Some((
            403,
            "exceeded quota: gpu, requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=3, limited: requests.nvidia.com/gpu=4"
        ))
    );
    let p = pod("train", json!({"nvidia.com/gpu": "1"}), json!({}));
    let a = answer(&create("Pod", "pods", &p), &objects);
    let updates = updates(&a);
    assert_eq!(updates.len(), 1, "the storage quota is not touched");
    assert_eq!(updates[0]["metadata"]["name"], "gpu");
    assert_eq!(
        updates[0]["status"]["used"],
        json!({"requests.nvidia.com/gpu": "4"})
    );
}

/// Several quotas: each constraining what the object uses is charged; the first one over
/// its limit denies the write.
#[test]
fn every_matching_quota_is_charged() {
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![
            quota("a", "1", json!({"services": "5"}), json!({"services": "1"})),
            quota(
                "b",
                "2",
                json!({"services.loadbalancers": "1", "count/services": "9"}),
                json!({"services.loadbalancers": "0", "count/services": "1"}),
            ),
        ],
    );
    let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
    let a = answer(&create("Service", "services", &lb), &objects);
    let updates = updates(&a);
    let used: Vec<(&Value, &Value)> = updates
        .iter()
        .map(|u| (&u["metadata"]["name"], &u["status"]["used"]))
        .collect();
    assert_eq!(
        used,
        [
            (&json!("a"), &json!({"services": "2"})),
            (
                &json!("b"),
                &json!({"count/services": "2", "services.loadbalancers": "1"})
            )
        ]
    );
    let objects = objects.with(
        "ResourceQuota",
        vec![quota(
            "c",
            "3",
            json!({"services.loadbalancers": "0"}),
            json!({"services.loadbalancers": "0"}),
        )],
    );
    assert!(
        denied(&answer(&create("Service", "services", &lb), &objects)).is_some_and(
            |(_, m)| m.starts_with("exceeded quota: c, requested: services.loadbalancers=1")
        )
    );
}

/// "Updates: ... allow updates without charging"; a pod that finishes gives back its
/// compute resources (as the quota controller would recount).
#[test]
fn updates_are_not_charged_and_finishing_gives_back() {
    let objects = Fake::default().with("ResourceQuota", vec![compute_quota()]);
    let before = pod("web", json!({"cpu": "1"}), json!({}));
    let mut bigger = before.clone();
    bigger["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("5");
    let mut update = request(Operation::Update, "Pod", "pods", "web");
    update.object = Some(bigger.to_string());
    update.old_object = Some(before.to_string());
    let a = answer(&update, &objects);
    assert_eq!(denied(&a), None);
    assert!(a.verdict.status_updates.is_empty());

    let mut finished = before.clone();
    finished["status"] = json!({"phase": "Succeeded"});
    let mut status = request(Operation::Update, "Pod", "pods", "web");
    status.subresource = Some("status".into());
    status.object = Some(finished.to_string());
    status.old_object = Some(before.to_string());
    let a = answer(&status, &objects);
    assert_eq!(
        updates(&a)[0]["status"]["used"],
        json!({"pods": "0", "requests.cpu": "0"})
    );
}

/// A scoped quota counts only the pods in its scopes ("BestEffort: match pods that have
/// best effort quality of service"); a scope the plugin does not know leaves the quota
/// unenforced, and says so.
#[test]
fn scoped_quotas_count_only_their_pods() {
    let mut scoped = quota(
        "best-effort",
        "1",
        json!({"pods": "1"}),
        json!({"pods": "1"}),
    );
    scoped["spec"]["scopes"] = json!(["BestEffort"]);
    let objects = Fake::default().with("ResourceQuota", vec![scoped]);
    let best_effort = create("Pod", "pods", &pod("p", json!({}), json!({})));
    let a = answer(&best_effort, &objects);
    assert!(
        denied(&a).is_some_and(|(code, m)| code == 403
            && m.starts_with("exceeded quota: best-effort, requested: pods=1, used: pods=1")),
        "{:?}",
        a.verdict.denied
    );
    let burstable = create("Pod", "pods", &pod("q", json!({"cpu": "1"}), json!({})));
    let a = answer(&burstable, &objects);
    assert_eq!(denied(&a), None);
    assert!(a.verdict.status_updates.is_empty(), "not counted");

    let mut unknown = quota("vac", "1", json!({"pods": "0"}), json!({"pods": "0"}));
    unknown["spec"]["scopes"] = json!(["VolumeAttributesClass"]);
    let objects = Fake::default().with("ResourceQuota", vec![unknown]);
    let a = answer(&best_effort, &objects);
    assert_eq!(denied(&a), None);
    assert_eq!(a.notes.len(), 1);
    assert!(a.notes[0].contains("\"vac\""), "{:?}", a.notes);
}

/// Kubernetes' service evaluator charges updates: a ClusterIP Service turned into a
/// LoadBalancer takes a `services.loadbalancers` slot; a pod's `resize` is charged and
/// released in one status update.
#[test]
fn updates_that_use_more_are_charged() {
    let service = |kind: &str| json!({"metadata": {"name": "s"}, "spec": {"type": kind, "ports": [{"port": 80}]}});
    let quota_of = |used: &str| {
        quota(
            "lb",
            "4",
            json!({"services.loadbalancers": "1"}),
            json!({"services.loadbalancers": used}),
        )
    };
    let mut update = request(Operation::Update, "Service", "services", "s");
    update.object = Some(service("LoadBalancer").to_string());
    update.old_object = Some(service("ClusterIP").to_string());
    let free = Fake::default().with("ResourceQuota", vec![quota_of("0")]);
    assert_eq!(
        updates(&answer(&update, &free))[0]["status"]["used"],
        json!({"services.loadbalancers": "1"})
    );
    let full = Fake::default().with("ResourceQuota", vec![quota_of("1")]);
    assert!(denied(&answer(&update, &full)).is_some_and(|(_, m)| {
        m.starts_with("exceeded quota: lb, requested: services.loadbalancers=1")
    }));

    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "compute",
            "2",
            json!({"requests.cpu": "4", "requests.memory": "1Gi"}),
            json!({"requests.cpu": "1", "requests.memory": "512Mi"}),
        )],
    );
    let before = pod("web", json!({"cpu": "1", "memory": "512Mi"}), json!({}));
    let after = pod("web", json!({"cpu": "3", "memory": "256Mi"}), json!({}));
    let mut resize = request(Operation::Update, "Pod", "pods", "web");
    resize.subresource = Some("resize".into());
    resize.object = Some(after.to_string());
    resize.old_object = Some(before.to_string());
    let a = answer(&resize, &objects);
    assert_eq!(updates(&a).len(), 1);
    assert_eq!(
        updates(&a)[0]["status"]["used"],
        json!({"requests.cpu": "3", "requests.memory": "256Mi"})
    );
    let mut too_big = resize.clone();
    too_big.object =
        Some(pod("web", json!({"cpu": "5", "memory": "512Mi"}), json!({})).to_string());
    assert!(denied(&answer(&too_big, &objects)).is_some());
}

#[test]
fn other_writes_are_allowed_as_they_are() {
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "q",
            "1",
            json!({"count/nodes": "0", "pods": "0"}),
            json!({"count/nodes": "0", "pods": "0"}),
        )],
    );
    // Cluster-scoped objects.
    let mut node = request(Operation::Create, "Node", "nodes", "n");
    node.namespace = String::new();
    node.object = Some(json!({"metadata": {"name": "n"}}).to_string());
    assert_eq!(denied(&answer(&node, &objects)), None);
    // Subresource creates (a binding is not a new pod).
    let mut binding = create("Pod", "pods", &pod("p", json!({}), json!({})));
    binding.subresource = Some("binding".into());
    assert_eq!(denied(&answer(&binding, &objects)), None);
    // Connect.
    let mut connect = request(Operation::Connect, "Pod", "pods", "p");
    connect.subresource = Some("exec".into());
    assert_eq!(denied(&answer(&connect, &objects)), None);
    // No quotas at all: allowed, nothing to update.
    let a = answer(
        &create("Pod", "pods", &pod("p", json!({}), json!({}))),
        &Fake::default(),
    );
    assert_eq!(denied(&a), None);
    assert!(a.verdict.status_updates.is_empty());
    // Bad JSON is an error, not a verdict.
    let mut broken = create("Pod", "pods", &pod("p", json!({}), json!({})));
    broken.object = Some("{".into());
    assert!(validate(&broken, &objects).is_err());
}

#[test]
fn negative_usage_is_refused() {
    let objects = Fake::default().with(
        "ResourceQuota",
        vec![quota(
            "q",
            "1",
            json!({"requests.cpu": "2"}),
            json!({"requests.cpu": "0"}),
        )],
    );
    let p = pod("p", json!({"cpu": "-1"}), json!({}));
    assert_eq!(
        denied(&answer(&create("Pod", "pods", &p), &objects)),
        Some((403, "quota usage is negative for resource(s): requests.cpu"))
    );
    // A negative amount of something no quota constrains is not quota's business.
    let p = pod("p", json!({"cpu": "1", "memory": "-1"}), json!({}));
    assert_eq!(denied(&answer(&create("Pod", "pods", &p), &objects)), None);
}
