//! Scheduling through the API, against a real `keel server` running its scheduler with the
//! default scheduler plugins: pods land where nodeSelector, node affinity, taints,
//! resources and pod anti-affinity say; a pod that fits nowhere carries Kubernetes'
//! message in its `PodScheduled` condition and a `FailedScheduling` Event, and is placed
//! once a node that fits appears; a scorer's configuration swapped live changes where the
//! next pods go, with no pod lost or bound twice.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use keel_plugin_artifacts as artifacts;
use keel_tests::Server;
use keel_tests::agent::eventually;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

/// The default scheduler plugins, in kube-scheduler's filter order, with its score weights.
fn scheduler_flags() -> Vec<String> {
    [
        ("node-unschedulable", "", artifacts::NODE_UNSCHEDULABLE),
        ("node-name", "", artifacts::NODE_NAME),
        ("taint-toleration", "/3", artifacts::TAINT_TOLERATION),
        ("node-affinity", "/2", artifacts::NODE_AFFINITY),
        ("node-resources", "/1", artifacts::NODE_RESOURCES),
        ("pod-topology-spread", "/2", artifacts::POD_TOPOLOGY_SPREAD),
        ("inter-pod-affinity", "/2", artifacts::INTER_POD_AFFINITY),
        ("balanced-allocation", "/1", artifacts::BALANCED_ALLOCATION),
    ]
    .iter()
    .flat_map(|(name, weight, path)| {
        [
            "--plugin".to_string(),
            format!("{name}=scheduler{weight}:{path}"),
        ]
    })
    .collect()
}

async fn start(flags: Vec<String>) -> Result<(tempfile::TempDir, Server, kube::Client)> {
    let dir = tempfile::tempdir()?;
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_scheduling(&dir.path().join("data"), &flags)?;
    let client = server.client()?;
    Ok((dir, server, client))
}

fn from_json<T: k8s_openapi::serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    Ok(serde_json::from_value(value)?)
}

/// Creates a node with `labels`, `spec` and `cpu` cores allocatable (and 110 pods).
async fn node(
    client: &kube::Client,
    name: &str,
    labels: Value,
    spec: Value,
    cpu: &str,
) -> Result<()> {
    let nodes = Api::<Node>::all(client.clone());
    let mut labels = labels;
    labels["kubernetes.io/hostname"] = json!(name);
    let object: Node =
        from_json(json!({"metadata": {"name": name, "labels": labels}, "spec": spec}))?;
    nodes.create(&PostParams::default(), &object).await?;
    let status = json!({"status": {
        "capacity": {"cpu": cpu, "memory": "16Gi", "pods": "110"},
        "allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True"}]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// Creates pod `name` in `default` with `spec` added to one container requesting `cpu`.
async fn pod(
    client: &kube::Client,
    name: &str,
    labels: Value,
    cpu: &str,
    spec: Value,
) -> Result<()> {
    let mut body = json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                 "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]},
    });
    if let (Some(into), Some(extra)) = (body["spec"].as_object_mut(), spec.as_object()) {
        into.extend(extra.clone());
    }
    let pod: Pod = from_json(body)?;
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await?;
    Ok(())
}

/// Waits until pod `name` is bound; answers its node.
async fn bound(client: &kube::Client, name: &str) -> Result<String> {
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pod = pods.get(name).await?;
        if let Some(node) = pod.spec.and_then(|s| s.node_name) {
            return Ok(node);
        }
        if Instant::now() > deadline {
            bail!("pod {name} was never bound: {:?}", pod.status);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until pod `name` carries `PodScheduled=False`; answers the condition's message.
async fn unschedulable(client: &kube::Client, name: &str) -> Result<String> {
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pod = pods.get(name).await?;
        let condition = pod
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False");
        if let Some(condition) = condition {
            assert_eq!(condition.reason.as_deref(), Some("Unschedulable"));
            return Ok(condition.message.unwrap_or_default());
        }
        if Instant::now() > deadline {
            bail!("pod {name} never became unschedulable");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn pods_land_where_the_rules_say_and_unschedulable_pods_say_why() -> Result<()> {
    let (_dir, _server, client) = start(scheduler_flags()).await?;
    node(
        &client,
        "zone-a",
        json!({"topology.kubernetes.io/zone": "a"}),
        json!({}),
        "4",
    )
    .await?;
    node(
        &client,
        "gpu",
        json!({"topology.kubernetes.io/zone": "b", "accelerator": "gpu"}),
        json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}),
        "4",
    )
    .await?;
    node(
        &client,
        "cordoned",
        json!({"topology.kubernetes.io/zone": "a"}),
        json!({"unschedulable": true}),
        "4",
    )
    .await?;
    node(
        &client,
        "ssd",
        json!({"topology.kubernetes.io/zone": "c", "disk": "ssd"}),
        json!({}),
        "1",
    )
    .await?;

    // kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector
    pod(
        &client,
        "wants-ssd",
        json!({}),
        "100m",
        json!({"nodeSelector": {"disk": "ssd"}}),
    )
    .await?;
    assert_eq!(bound(&client, "wants-ssd").await?, "ssd");

    // kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/ and
    // .../assign-pod-node/#node-affinity (required, operator In): only the tainted node
    // matches, and the toleration admits the pod there.
    pod(
        &client,
        "gpu-job",
        json!({}),
        "100m",
        json!({
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "accelerator", "operator": "In", "values": ["gpu"]}]}]}}},
        }),
    )
    .await?;
    assert_eq!(bound(&client, "gpu-job").await?, "gpu");

    // Untolerated taints and cordoned nodes are never chosen.
    for i in 0..6 {
        pod(&client, &format!("plain-{i}"), json!({}), "100m", json!({})).await?;
    }
    for i in 0..6 {
        let node = bound(&client, &format!("plain-{i}")).await?;
        assert!(node == "zone-a" || node == "ssd", "plain-{i} on {node}");
    }

    // .../assign-pod-node/#inter-pod-affinity-and-anti-affinity: one web pod per zone.
    let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}});
    pod(
        &client,
        "web-1",
        json!({"app": "web"}),
        "100m",
        anti.clone(),
    )
    .await?;
    let first = bound(&client, "web-1").await?;
    pod(
        &client,
        "web-2",
        json!({"app": "web"}),
        "100m",
        anti.clone(),
    )
    .await?;
    let second = bound(&client, "web-2").await?;
    let zone = |n: &str| if n == "ssd" { "c" } else { "a" };
    assert_ne!(
        zone(&first),
        zone(&second),
        "web-1 on {first}, web-2 on {second}"
    );
    pod(&client, "web-3", json!({"app": "web"}), "100m", anti).await?;
    let message = unschedulable(&client, "web-3").await?;
    assert_eq!(
        message,
        "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable, 2 node(s) didn't match pod anti-affinity rules."
    );

    // Every reason counted, sorted as kube-scheduler prints them.
    pod(
        &client,
        "too-big",
        json!({}),
        "2",
        json!({"nodeSelector": {"disk": "ssd"}}),
    )
    .await?;
    let message = unschedulable(&client, "too-big").await?;
    assert_eq!(
        message,
        "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable."
    );
    // The scheduler writes the condition, then the Event: the Event may land just after.
    let events = Api::<Event>::namespaced(client.clone(), "default");
    let failed = eventually(
        Duration::from_secs(30),
        "a FailedScheduling Event for too-big",
        || async {
            let listed = events.list(&ListParams::default()).await?;
            Ok(listed
                .items
                .into_iter()
                .find(|e| e.involved_object.name.as_deref() == Some("too-big")))
        },
        Option::is_some,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("no event for too-big"))?;
    assert_eq!(failed.reason.as_deref(), Some("FailedScheduling"));
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert_eq!(failed.message.as_deref(), Some(message.as_str()));

    // A node that fits appears: the parked pod is tried again and placed there.
    node(
        &client,
        "ssd-big",
        json!({"topology.kubernetes.io/zone": "c", "disk": "ssd"}),
        json!({}),
        "8",
    )
    .await?;
    assert_eq!(bound(&client, "too-big").await?, "ssd-big");
    Ok(())
}

/// Patches the node-resources plugin's configuration and waits until it serves.
async fn set_strategy(server: &Server, strategy: &str) -> Result<()> {
    let path = "/apis/keel.dev/v1alpha1/plugins/node-resources";
    // Scored on cpu alone: each pod moves a node's score by at least one point.
    let body = json!({"spec": {"config": {"scoringStrategy": {
        "type": strategy, "resources": [{"name": "cpu", "weight": 1}]}}}})
    .to_string();
    let (code, answer) = keel_tests::http(
        server.port,
        "PATCH",
        path,
        "application/merge-patch+json",
        body.as_bytes(),
    )?;
    if code != 200 {
        bail!("PATCH {path}: {code} {answer}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, text) = keel_tests::http_get(server.port, path)?;
        let object: Value = serde_json::from_str(&text)?;
        let observed =
            object.pointer("/status/observedGeneration") == object.pointer("/metadata/generation");
        let ready = object
            .pointer("/status/conditions/0/status")
            .and_then(Value::as_str)
            == Some("True");
        if observed && ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("node-resources never served {strategy}: {object}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn swapping_a_scorer_live_changes_placement_with_no_pod_lost_or_bound_twice() -> Result<()> {
    // node-resources alone, so its strategy alone decides.
    let flags = vec![
        "--plugin".to_string(),
        format!("node-resources=scheduler:{}", artifacts::NODE_RESOURCES),
    ];
    let (_dir, server, client) = start(flags).await?;
    for name in ["left", "right"] {
        node(&client, name, json!({}), json!({}), "64").await?;
    }
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    // Every binding, from the watch stream: a pod's node is set once and never changes.
    let watch = pods.watch(&WatchParams::default(), "0").await?.boxed();
    let recorder = tokio::spawn(async move {
        let mut nodes: HashMap<String, String> = HashMap::new();
        let mut rebound = Vec::new();
        let mut watch = watch;
        while let Ok(Some(event)) = watch.try_next().await {
            let (WatchEvent::Added(pod) | WatchEvent::Modified(pod)) = event else {
                continue;
            };
            let (Some(name), Some(node)) = (pod.metadata.name, pod.spec.and_then(|s| s.node_name))
            else {
                continue;
            };
            if let Some(old) = nodes.insert(name.clone(), node.clone())
                && old != node
            {
                rebound.push(format!("{name}: {old} then {node}"));
            }
            if nodes.len() == 40 {
                break;
            }
        }
        (nodes, rebound)
    });

    // LeastAllocated (the default): pods spread over both nodes.
    for i in 0..10 {
        pod(&client, &format!("spread-{i}"), json!({}), "1", json!({})).await?;
        bound(&client, &format!("spread-{i}")).await?;
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..10 {
        *counts
            .entry(bound(&client, &format!("spread-{i}")).await?)
            .or_default() += 1;
    }
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        [5, 5],
        "{counts:?}"
    );

    // Swap to MostAllocated while pods keep arriving: none fails, none is lost.
    let creator = {
        let client = client.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                pod(&client, &format!("during-{i}"), json!({}), "1", json!({})).await?;
            }
            anyhow::Ok(())
        })
    };
    set_strategy(&server, "MostAllocated").await?;
    creator.await??;
    for i in 0..20 {
        bound(&client, &format!("during-{i}")).await?;
    }

    // The next pods pack onto one node, the fuller one (or either, when even).
    let mut before: BTreeMap<String, usize> = BTreeMap::new();
    for pod in pods.list(&ListParams::default()).await?.items {
        if let Some(node) = pod.spec.and_then(|s| s.node_name) {
            *before.entry(node).or_default() += 1;
        }
    }
    pod(&client, "packed-0", json!({}), "1", json!({})).await?;
    let packed = bound(&client, "packed-0").await?;
    let most = before.values().copied().max().unwrap_or_default();
    assert_eq!(
        before.get(&packed).copied().unwrap_or_default(),
        most,
        "packed-0 on {packed}, counts before: {before:?}"
    );
    for i in 1..10 {
        pod(&client, &format!("packed-{i}"), json!({}), "1", json!({})).await?;
        assert_eq!(
            bound(&client, &format!("packed-{i}")).await?,
            packed,
            "MostAllocated packs packed-{i} with packed-0"
        );
    }

    let (nodes, rebound) = tokio::time::timeout(Duration::from_secs(30), recorder).await??;
    assert_eq!(nodes.len(), 40, "every pod bound");
    assert!(rebound.is_empty(), "pods bound twice: {rebound:?}");
    Ok(())
}
