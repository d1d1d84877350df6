//! Controllers through the API, against a real `keel server` running the default controller
//! plugins (ReplicaSet, Deployment, garbage collector, node lifecycle) as WASM components:
//! kubectl creates, scales, rolls out and rolls back a Deployment, with the surge and
//! unavailability bounds checked on every event of a watch stream; each deletion
//! propagation policy; a controller plugin swapped live mid-scale with no pod too many; and a
//! node whose heartbeat stops has its pods replaced on the other nodes.
//!
//! No node agent runs here: a stand-in marks pods Ready (as a kubelet reports them) and
//! renews node Leases, so the controllers see what a cluster's agents would report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::{Timestamp, Unit};
use keel_plugin_artifacts as artifacts;
use keel_tests::controllers::controller_flags;
use keel_tests::{Server, stdout_ok};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

fn as_strs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

/// A `keel server` running the default controllers (with `overrides`' spec files) and
/// `extra` flags; with `scheduling`, its scheduler too.
fn start(
    dir: &Path,
    scheduling: bool,
    overrides: &[(&str, PathBuf)],
    extra: &[String],
) -> Result<(Server, kube::Client)> {
    let mut flags = controller_flags(overrides);
    flags.extend_from_slice(extra);
    let data = dir.join("data");
    let server = if scheduling {
        Server::start_scheduling(&data, &as_strs(&flags))?
    } else {
        Server::start(&data, &as_strs(&flags))?
    };
    let client = server.client()?;
    Ok((server, client))
}

/// Polls `check` every 100 ms until it answers `Some`, for at most `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what} (last error: {last_error:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_rfc3339() -> String {
    Timestamp::now()
        .round(Unit::Second)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

/// What a kubelet would report: every pod (bound to a node, when `bound_only`) that is not
/// Ready becomes Running and Ready. Runs until `stop`.
fn spawn_kubelet_stand_in(client: kube::Client, bound_only: bool, stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let pods = Api::<Pod>::all(client);
        while !stop.load(Ordering::Relaxed) {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                for pod in list.items {
                    let ready = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| {
                            c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        });
                    let bound = pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.node_name.as_ref())
                        .is_some();
                    if ready || pod.metadata.deletion_timestamp.is_some() || (bound_only && !bound)
                    {
                        continue;
                    }
                    let (Some(name), Some(namespace)) = (pod.metadata.name, pod.metadata.namespace)
                    else {
                        continue;
                    };
                    let now = now_rfc3339();
                    let status = json!({"status": {"phase": "Running", "startTime": now,
                        "conditions": [
                            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                            {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                    let api = Api::<Pod>::namespaced(pods.clone().into_client(), &namespace);
                    let _ = api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

fn kubectl_ok(server: &Server, args: &[&str]) -> Result<String> {
    stdout_ok(&server.kubectl(args, None)?).with_context(|| format!("kubectl {}", args.join(" ")))
}

/// The Deployment `kubectl create deployment NAME --image=nginx:1.25 --replicas=N` makes,
/// written with `kubectl apply -f` (kubectl's typed `create` sends protobuf, which Keel does
/// not decode yet; `apply` sends the same object as JSON).
fn create_deployment(server: &Server, name: &str, replicas: u32) -> Result<()> {
    let replicas = format!("--replicas={replicas}");
    let args = [
        "create",
        "deployment",
        name,
        "--image=nginx:1.25",
        replicas.as_str(),
        "--dry-run=client",
        "-o",
        "yaml",
    ];
    let manifest = kubectl_ok(server, &args)?;
    stdout_ok(&server.kubectl(&["apply", "-f", "-"], Some(&manifest))?)
        .with_context(|| format!("kubectl apply of\n{manifest}"))?;
    Ok(())
}

/// Pods labelled `app=<app>` that are not being deleted: (total, ready).
async fn pod_counts(pods: &Api<Pod>, app: &str) -> Result<(usize, usize)> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?;
    let live: Vec<&Pod> = list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    Ok((live.len(), live.iter().filter(|p| is_ready(p)).count()))
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn image_of(pod: &Pod) -> Option<String> {
    pod.spec.as_ref()?.containers.first()?.image.clone()
}

async fn wait_for_pods(pods: &Api<Pod>, app: &str, want: usize) -> Result<()> {
    eventually(
        &format!("{want} ready pods of {app}"),
        Duration::from_secs(60),
        || async {
            let (total, ready) = pod_counts(pods, app).await?;
            Ok((total == want && ready == want).then_some(()))
        },
    )
    .await
}

/// `kubectl create deployment`, `scale` up and down, `set image` with the rollout's bounds
/// checked from a watch stream, `rollout status`, `rollout history` and `rollout undo`
/// (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drives_a_deployment_through_scale_rollout_and_undo() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, client) = start(dir.path(), false, &[], &[])?;
    let stop = Arc::new(AtomicBool::new(false));
    spawn_kubelet_stand_in(client.clone(), false, stop.clone());
    let pods = Api::<Pod>::namespaced(client.clone(), "default");

    create_deployment(&server, "web", 3)?;
    wait_for_pods(&pods, "web", 3).await?;
    kubectl_ok(
        &server,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    )?;

    kubectl_ok(&server, &["scale", "deployment/web", "--replicas=10"])?;
    wait_for_pods(&pods, "web", 10).await?;
    kubectl_ok(&server, &["scale", "deployment/web", "--replicas=3"])?;
    wait_for_pods(&pods, "web", 3).await?;
    let replicasets = Api::<ReplicaSet>::namespaced(client.clone(), "default");
    assert_eq!(
        replicasets.list(&ListParams::default()).await?.items.len(),
        1,
        "scaling makes no new ReplicaSet"
    );

    // The rollout, watched: with 3 replicas and the default 25% surge and unavailability,
    // there are never more than 4 pods and never fewer than 3 ready ones.
    let list = pods.list(&ListParams::default().labels("app=web")).await?;
    let version = list.metadata.resource_version.clone().unwrap_or_default();
    let mut state: BTreeMap<String, (bool, bool)> = list
        .items
        .iter()
        .map(|p| {
            (
                p.metadata.name.clone().unwrap_or_default(),
                (is_ready(p), false),
            )
        })
        .collect();
    let mut stream = pods
        .watch(
            &WatchParams::default().labels("app=web").timeout(120),
            &version,
        )
        .await?
        .boxed();
    kubectl_ok(
        &server,
        &["set", "image", "deployment/web", "nginx=nginx:1.26"],
    )?;
    let (mut most, mut fewest_ready, mut events) = (0, usize::MAX, 0);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.try_next()).await;
        let event = match next {
            Ok(Ok(Some(event))) => event,
            other => bail!("the watch ended before the rollout did: {other:?}"),
        };
        let (pod, gone) = match event {
            WatchEvent::Added(p) | WatchEvent::Modified(p) => (p, false),
            WatchEvent::Deleted(p) => (p, true),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => bail!("watch error: {e:?}"),
        };
        events += 1;
        let name = pod.metadata.name.clone().unwrap_or_default();
        if gone {
            state.remove(&name);
        } else {
            state.insert(
                name,
                (is_ready(&pod), pod.metadata.deletion_timestamp.is_some()),
            );
        }
        let live = state.values().filter(|(_, deleting)| !deleting).count();
        let ready = state.values().filter(|(r, d)| *r && !*d).count();
        most = most.max(live);
        fewest_ready = fewest_ready.min(ready);
        assert!(live <= 4, "more than replicas + maxSurge pods: {state:?}");
        assert!(
            ready >= 3,
            "fewer than replicas - maxUnavailable ready: {state:?}"
        );
        let new_pods = pods.list(&ListParams::default().labels("app=web")).await?;
        let done = new_pods.items.len() == 3
            && new_pods
                .items
                .iter()
                .all(|p| image_of(p).as_deref() == Some("nginx:1.26") && is_ready(p));
        if done && live == 3 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the rollout did not finish: {state:?}");
        }
    }
    assert_eq!(most, 4, "the rollout surged by one pod ({events} events)");
    assert_eq!(fewest_ready, 3);
    kubectl_ok(
        &server,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    )?;
    let history = kubectl_ok(&server, &["rollout", "history", "deployment/web"])?;
    assert!(history.contains('1') && history.contains('2'), "{history}");

    kubectl_ok(&server, &["rollout", "undo", "deployment/web"])?;
    eventually(
        "the rollback to nginx:1.25",
        Duration::from_secs(60),
        || async {
            let list = pods.list(&ListParams::default().labels("app=web")).await?;
            let back = list.items.len() == 3
                && list
                    .items
                    .iter()
                    .all(|p| image_of(p).as_deref() == Some("nginx:1.25") && is_ready(p));
            Ok(back.then_some(()))
        },
    )
    .await?;
    kubectl_ok(
        &server,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    )?;
    let sets = replicasets.list(&ListParams::default()).await?.items;
    assert_eq!(sets.len(), 2, "the undo reused the first ReplicaSet");
    let revision_of_old_template = sets
        .iter()
        .filter_map(|rs| serde_json::to_value(rs).ok())
        .find(|rs| {
            rs.pointer("/spec/template/spec/containers/0/image")
                .and_then(|i| i.as_str())
                == Some("nginx:1.25")
        })
        .and_then(|rs| {
            rs.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                .and_then(|r| r.as_str())
                .map(str::to_string)
        });
    assert_eq!(revision_of_old_template.as_deref(), Some("3"));
    stop.store(true, Ordering::Relaxed);
    Ok(())
}

/// Deleting a Deployment with each propagation policy
/// (https://kubernetes.io/docs/concepts/architecture/garbage-collection/#cascading-deletion).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_cascades_in_the_background_in_the_foreground_or_orphans() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, client) = start(dir.path(), false, &[], &[])?;
    let stop = Arc::new(AtomicBool::new(false));
    spawn_kubelet_stand_in(client.clone(), false, stop.clone());
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let replicasets = Api::<ReplicaSet>::namespaced(client.clone(), "default");
    let deployments = Api::<Deployment>::namespaced(client.clone(), "default");
    for app in ["bg", "fg", "orphan"] {
        create_deployment(&server, app, 2)?;
    }
    for app in ["bg", "fg", "orphan"] {
        wait_for_pods(&pods, app, 2).await?;
    }
    let sets_of = |app: &'static str| {
        let replicasets = replicasets.clone();
        async move {
            Ok::<_, anyhow::Error>(
                replicasets
                    .list(&ListParams::default().labels(&format!("app={app}")))
                    .await?
                    .items,
            )
        }
    };

    // Foreground: kubectl waits until the Deployment is gone, which is only after its
    // ReplicaSet and pods are.
    kubectl_ok(
        &server,
        &["delete", "deployment", "fg", "--cascade=foreground"],
    )?;
    assert!(sets_of("fg").await?.is_empty(), "the ReplicaSet went first");
    assert_eq!(pod_counts(&pods, "fg").await?.0, 0, "the pods went first");
    let all_fg = pods.list(&ListParams::default().labels("app=fg")).await?;
    assert!(all_fg.items.is_empty(), "no pod is even terminating");

    // Background: the Deployment goes at once; the collector takes the rest after.
    kubectl_ok(
        &server,
        &["delete", "deployment", "bg", "--cascade=background"],
    )?;
    assert!(deployments.get_opt("bg").await?.is_none());
    eventually(
        "the background cascade",
        Duration::from_secs(30),
        || async {
            let left = sets_of("bg").await?.len()
                + pods
                    .list(&ListParams::default().labels("app=bg"))
                    .await?
                    .items
                    .len();
            Ok((left == 0).then_some(()))
        },
    )
    .await?;

    // Orphan: the Deployment goes; its ReplicaSet stays, no longer owned, with its pods.
    kubectl_ok(
        &server,
        &["delete", "deployment", "orphan", "--cascade=orphan"],
    )?;
    assert!(deployments.get_opt("orphan").await?.is_none());
    let sets = sets_of("orphan").await?;
    assert_eq!(sets.len(), 1);
    assert!(
        sets[0]
            .metadata
            .owner_references
            .as_ref()
            .is_none_or(Vec::is_empty),
        "{:?}",
        sets[0].metadata.owner_references
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        pod_counts(&pods, "orphan").await?,
        (2, 2),
        "the orphans keep running"
    );
    stop.store(true, Ordering::Relaxed);
    Ok(())
}

/// The ReplicaSet controller's module is swapped (a new configuration, so a new version)
/// several times while it scales a ReplicaSet up: the scale-up completes and, seen from
/// the watch stream, never goes past `replicas` (no key handled twice, none lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_swapped_live_loses_no_key_and_handles_none_twice() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (_server, client) = start(dir.path(), false, &[], &[])?;
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let version = pods
        .list(&ListParams::default())
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let mut stream = pods
        .watch(
            &WatchParams::default().labels("app=swap").timeout(120),
            &version,
        )
        .await?
        .boxed();
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "swap"},
        "spec": {"replicas": 40, "selector": {"matchLabels": {"app": "swap"}},
            "template": {"metadata": {"labels": {"app": "swap"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}))?;
    let replicasets = Api::<ReplicaSet>::namespaced(client.clone(), "default");
    replicasets.create(&PostParams::default(), &rs).await?;
    let plugins = Api::<kube::api::DynamicObject>::all_with(
        client.clone(),
        &kube::api::ApiResource {
            group: "keel.dev".into(),
            version: "v1alpha1".into(),
            api_version: "keel.dev/v1alpha1".into(),
            kind: "Plugin".into(),
            plural: "plugins".into(),
        },
    );
    for round in 0..4 {
        let patch = json!({"spec": {"config": {"burstReplicas": 500 - round}}});
        plugins
            .patch("replicaset", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let scale = json!({"spec": {"replicas": 40 + 10 * (round + 1)}});
        replicasets
            .patch("swap", &PatchParams::default(), &Patch::Merge(&scale))
            .await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let want = 80;
    let mut names = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while names.len() < want {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.try_next()).await;
        match next {
            Ok(Ok(Some(WatchEvent::Added(pod)))) => {
                names.insert(pod.metadata.name.unwrap_or_default());
            }
            Ok(Ok(Some(WatchEvent::Deleted(pod)))) => {
                bail!(
                    "no pod is deleted while scaling up: {:?}",
                    pod.metadata.name
                )
            }
            Ok(Ok(Some(_))) => {}
            other => bail!("watch ended with {} pods: {other:?}", names.len()),
        }
        if Instant::now() > deadline {
            bail!("{} of {want} pods", names.len());
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        pod_counts(&pods, "swap").await?.0,
        want,
        "not one pod too many"
    );
    let status = replicasets.get("swap").await?.status.map(|s| s.replicas);
    assert_eq!(status, Some(80));
    Ok(())
}

/// A node whose Lease is no longer renewed becomes `Ready=Unknown`, is tainted
/// `node.kubernetes.io/unreachable`, and its pods are evicted and replaced on the other
/// nodes (https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_its_heartbeat_has_its_pods_replaced_elsewhere() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lifecycle = dir.path().join("node-lifecycle.yaml");
    let spec = std::fs::read_to_string(artifacts::deploy_spec("node-lifecycle"))?
        .replace(
            "nodeMonitorGracePeriodSeconds: 40",
            "nodeMonitorGracePeriodSeconds: 3",
        )
        .replace(
            "defaultTolerationSeconds: 300",
            "defaultTolerationSeconds: 1",
        );
    std::fs::write(&lifecycle, spec)?;
    let mut schedulers = Vec::new();
    for (name, path) in [
        ("node-unschedulable", artifacts::NODE_UNSCHEDULABLE),
        ("taint-toleration", artifacts::TAINT_TOLERATION),
        ("node-resources", artifacts::NODE_RESOURCES),
    ] {
        schedulers.push("--plugin".into());
        schedulers.push(format!("{name}=scheduler:{path}"));
    }
    let (server, client) = start(
        dir.path(),
        true,
        &[("node-lifecycle", lifecycle)],
        &schedulers,
    )?;
    let nodes = Api::<Node>::all(client.clone());
    let leases = Api::<Lease>::namespaced(client.clone(), "kube-node-lease");
    for name in ["n1", "n2", "n3"] {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": name,
            "labels": {"kubernetes.io/hostname": name}}}))?;
        let created = nodes.create(&PostParams::default(), &node).await?;
        let status = json!({"status": {
            "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()}]}});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        let lease: Lease = serde_json::from_value(json!({"metadata": {"name": name,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                "uid": created.metadata.uid}]},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                "renewTime": now_micro()}}))?;
        leases.create(&PostParams::default(), &lease).await?;
    }
    // The agents' heartbeats: the node named in `dead` stops renewing.
    let dead: Arc<std::sync::Mutex<Option<&'static str>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (leases, dead, stop) = (leases.clone(), dead.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for name in ["n1", "n2", "n3"] {
                    let stopped = *dead
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if stopped == Some(name) {
                        continue;
                    }
                    let renew = json!({"spec": {"renewTime": now_micro()}});
                    let _ = leases
                        .patch(name, &PatchParams::default(), &Patch::Merge(&renew))
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
    spawn_kubelet_stand_in(client.clone(), true, stop.clone());
    create_deployment(&server, "spread", 6)?;
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    wait_for_pods(&pods, "spread", 6).await?;
    let on_node = |node: &'static str| {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels("app=spread"))
                .await?;
            let (terminating, live): (Vec<&Pod>, Vec<&Pod>) = list
                .items
                .iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
                .partition(|p| p.metadata.deletion_timestamp.is_some());
            Ok::<_, anyhow::Error>((live.len(), terminating.len()))
        }
    };
    // The node with the most pods (at least two of six on three nodes) loses its heartbeat.
    let mut counts = Vec::new();
    for name in ["n1", "n2", "n3"] {
        counts.push((on_node(name).await?.0, name));
    }
    counts.sort();
    let [(_, first), (_, second), (before, victim)] = counts[..] else {
        bail!("three nodes: {counts:?}");
    };
    assert!(before >= 2, "{counts:?}");
    *dead
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(victim);
    let node = eventually(
        "the silent node Ready=Unknown and tainted",
        Duration::from_secs(30),
        || async {
            let node = nodes.get(victim).await?;
            let unknown = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Ready" && c.status == "Unknown")
                });
            let tainted = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .is_some_and(|t| {
                    t.iter().any(|t| {
                        t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute"
                    })
                });
            Ok((unknown && tainted).then_some(node))
        },
    )
    .await?;
    let reason = node
        .status
        .and_then(|s| s.conditions)
        .and_then(|c| c.into_iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.reason);
    assert_eq!(reason.as_deref(), Some("NodeStatusUnknown"));
    eventually(
        "the silent node's pods replaced on the other two",
        Duration::from_secs(60),
        || async {
            let (total, ready) = pod_counts(&pods, "spread").await?;
            let (left, terminating) = on_node(victim).await?;
            Ok((left == 0 && terminating == before && total == 6 && ready == 6).then_some(()))
        },
    )
    .await?;
    // The evicted pods stay Terminating on the silent node, as in Kubernetes: only its
    // agent, back, removes them (or a forced delete).
    assert_eq!(on_node(first).await?.0 + on_node(second).await?.0, 6);
    let n2 = nodes.get(first).await?;
    assert!(
        n2.spec.and_then(|s| s.taints).is_none_or(|t| t.is_empty()),
        "a node that keeps its heartbeat is not tainted"
    );
    stop.store(true, Ordering::Relaxed);
    Ok(())
}

/// `metav1.MicroTime` now, as a kubelet writes a Lease's `renewTime`.
fn now_micro() -> String {
    Timestamp::now()
        .round(Unit::Microsecond)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}
