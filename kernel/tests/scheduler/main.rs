//! The scheduler in one process: a binding that fails is forgotten and retried after its
//! back-off (the pod is bound once, on the second try); a cycle looks at the nodes from
//! where the last one stopped; and a pod that fits nowhere is tried again when a pod goes
//! away and frees room (with the node-resources WASM plugin from the catalog).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use keel::catalog::install::PluginSeed;
use keel::cluster::{CustomAdmission, InProcess, ServerConfig};
use keel::plugin::PluginType;
use keel::plugin::calls::{Candidates, Capabilities, FilterResult, Pod};
use keel::plugin::{CallError, FailurePolicy, Tables};
use keel::registry::admission::{Admission, AdmitFuture, Admitted, Attempt};
use keel::registry::{ApiError, DeleteOptions, Objects, WriteOptions};
use keel::scheduler::{
    CatalogPlugins, PluginSet, Plugins, Scheduler, SchedulerConfig, SchedulingPlugin,
};
use keel_plugin_artifacts as artifacts;
use serde_json::{Value, json};

/// Refuses the first `refusals` bindings, admits everything else.
struct RefuseBindings {
    left: AtomicU32,
}

impl Admission for RefuseBindings {
    fn admit<'a>(&'a self, attempt: Attempt<'a>) -> AdmitFuture<'a> {
        Box::pin(async move {
            if attempt.subresource == Some("binding")
                && self
                    .left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                return Err(ApiError::Admission {
                    code: 403,
                    reason: "Forbidden".into(),
                    message: "not this time".into(),
                });
            }
            Ok(Admitted::default())
        })
    }
}

/// One scorer that prefers the first candidate it is given.
struct FirstCandidate;

impl SchedulingPlugin for FirstCandidate {
    fn name(&self) -> &str {
        "first-candidate"
    }
    fn weight(&self) -> u32 {
        1
    }
    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            filters: false,
            scores: true,
            reads_usage: false,
            reads_pods: false,
            filter_needs: None,
            score_needs: None,
        }
    }
    fn filter(&self, _: Tables<'_>, _: &Pod, c: &Candidates) -> Result<FilterResult, CallError> {
        Ok(FilterResult {
            codes: vec![0; c.index.len()],
            reasons: vec![],
        })
    }
    fn score(&self, _: Tables<'_>, _: &Pod, c: &Candidates) -> Result<Vec<u32>, CallError> {
        Ok((0..c.index.len())
            .map(|i| u32::from(i == 0) * 100)
            .collect())
    }
}

struct Only(Arc<dyn SchedulingPlugin>);

impl PluginSet for Only {
    fn current(&self) -> Plugins {
        Arc::from(vec![self.0.clone()])
    }
}

/// No plugins: every node is feasible and scores the same.
struct NoPlugins;

impl PluginSet for NoPlugins {
    fn current(&self) -> Plugins {
        Arc::from(Vec::new())
    }
}

async fn server(refusals: u32) -> (tempfile::TempDir, InProcess) {
    server_with(refusals, Vec::new()).await
}

async fn server_with(refusals: u32, plugins: Vec<PluginSeed>) -> (tempfile::TempDir, InProcess) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut config = ServerConfig::new(dir.path().to_path_buf(), ([127, 0, 0, 1], 0).into());
    config.plugins = plugins;
    config.admission = Some(CustomAdmission(Arc::new(RefuseBindings {
        left: AtomicU32::new(refusals),
    })));
    let server = InProcess::start(config)
        .await
        .unwrap_or_else(|e| panic!("server: {e}"));
    (dir, server)
}

async fn create(objects: &Objects, plural: &str, ns: Option<&str>, body: Value) {
    let kind = objects
        .kinds()
        .by_path("", "v1", plural)
        .unwrap_or_else(|| panic!("{plural} served"));
    objects
        .create(kind, ns, body, WriteOptions::default())
        .await
        .unwrap_or_else(|e| panic!("create {plural}: {e}"));
}

async fn node(objects: &Objects, name: &str) {
    let body = json!({"metadata": {"name": name},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}});
    create(objects, "nodes", None, body).await;
}

async fn pod(objects: &Objects, name: &str) {
    pod_requesting(objects, name, "0").await;
}

async fn pod_requesting(objects: &Objects, name: &str, cpu: &str) {
    let body = json!({"metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "i",
                                 "resources": {"requests": {"cpu": cpu}}}]}});
    create(objects, "pods", Some("default"), body).await;
}

/// Waits until pod `name` is bound; answers its node.
async fn bound(objects: &Objects, name: &str, within: Duration) -> String {
    let kind = objects
        .kinds()
        .by_path("", "v1", "pods")
        .unwrap_or_else(|| panic!("pods served"));
    let deadline = Instant::now() + within;
    loop {
        let pod = objects
            .get(kind, Some("default"), name)
            .unwrap_or_else(|e| panic!("get {name}: {e}"));
        if let Some(node) = pod.pointer("/spec/nodeName").and_then(Value::as_str) {
            return node.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{name} not bound within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_binding_is_forgotten_and_retried_after_its_back_off() {
    let (_dir, server) = server(1).await;
    let objects = server.running.objects.clone();
    node(&objects, "n1").await;
    let scheduler = Scheduler::start(
        objects.clone(),
        Arc::new(NoPlugins),
        SchedulerConfig::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    pod(&objects, "p").await;
    assert_eq!(bound(&objects, "p", Duration::from_secs(10)).await, "n1");
    // The first binding was refused; the second came after the 1 s back-off.
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    let stats = scheduler.stats().clone();
    assert_eq!(stats.bind_failures.load(Ordering::Relaxed), 1);
    // The counter moves just after the binding answers.
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats.bound.load(Ordering::Relaxed) != 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stats.bound.load(Ordering::Relaxed), 1);
    scheduler.stop();
    server.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycles_start_where_the_last_one_stopped() {
    // kube-scheduler's nextStartNodeIndex: 150 nodes, 100 looked at per cycle (the minimum),
    // and a scorer that prefers the first node a cycle looks at. Cycle 1 looks at n000..n099,
    // cycle 2 at n100..n149 then n000..n049, cycle 3 at n050..n149.
    let (_dir, server) = server(0).await;
    let objects = server.running.objects.clone();
    for i in 0..150 {
        node(&objects, &format!("n{i:03}")).await;
    }
    let scheduler = Scheduler::start(
        objects.clone(),
        Arc::new(Only(Arc::new(FirstCandidate))),
        SchedulerConfig {
            percentage_of_nodes_to_score: Some(1),
            ..SchedulerConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut placed = Vec::new();
    for i in 0..3 {
        pod(&objects, &format!("p{i}")).await;
        placed.push(bound(&objects, &format!("p{i}"), Duration::from_secs(10)).await);
    }
    assert_eq!(placed, ["n000", "n100", "n050"]);
    scheduler.stop();
    server.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_fits_nowhere_is_placed_when_a_pod_goes_away() {
    // kube-scheduler's queueing hints: a pod deleted may make an unschedulable pod fit.
    let seed = PluginSeed {
        name: "node-resources".into(),
        plugin_type: PluginType::Scheduler,
        path: artifacts::NODE_RESOURCES.into(),
        weight: None,
        spec: None,
    };
    let (_dir, server) = server_with(0, vec![seed]).await;
    let objects = server.running.objects.clone();
    node(&objects, "n1").await;
    let scheduler = Scheduler::start(
        objects.clone(),
        Arc::new(CatalogPlugins::new(server.running.catalog.clone())),
        SchedulerConfig::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    pod_requesting(&objects, "first", "3").await;
    assert_eq!(
        bound(&objects, "first", Duration::from_secs(10)).await,
        "n1"
    );
    pod_requesting(&objects, "second", "3").await;
    let pods = objects
        .kinds()
        .by_path("", "v1", "pods")
        .unwrap_or_else(|| panic!("pods served"));
    // It fits nowhere: n1 has 4 cpus and 3 are taken.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pod = objects
            .get(pods, Some("default"), "second")
            .unwrap_or_else(|e| panic!("{e}"));
        let message = pod
            .pointer("/status/conditions/0/message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if message == "0/1 nodes are available: 1 Insufficient cpu." {
            break;
        }
        assert!(Instant::now() < deadline, "never unschedulable: {pod}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    objects
        .delete(pods, Some("default"), "first", &DeleteOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        bound(&objects, "second", Duration::from_secs(10)).await,
        "n1"
    );
    scheduler.stop();
    server.stop().await.unwrap_or_else(|e| panic!("{e}"));
}
