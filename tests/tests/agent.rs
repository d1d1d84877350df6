//! The node agent against a real `keel server`: a `keel agent` process registers its node
//! and renews its Lease, and runs the pods bound to it as WASI components (the test
//! workload, `plugins/testing/workload`, imported as an OCI image): a Deployment reaches
//! Ready and its pods' output reads through `kubectl logs`, and an agent restarted runs them
//! again, counting a restart; a crashing container restarts
//! with growing back-off and `--previous` shows the run before; a missing image is
//! `ErrImagePull` then `ImagePullBackOff`; a container past its memory limit is
//! `OOMKilled`; `kubectl logs -f` streams a run until it ends; the environment comes from
//! values, the pod's fields and ConfigMaps, after the init containers ran.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use keel_tests::agent::{Agent, WORKLOAD_IMAGE, eventually, pod, pod_json};
use keel_tests::controllers::controller_flags;
use keel_tests::{Server, stdout_ok};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

/// A server running its scheduler and the default controllers, and one agent whose
/// back-off starts at `backoff_ms`.
fn start(dir: &Path, backoff_ms: u64) -> Result<(Server, Agent, kube::Client)> {
    let flags = controller_flags(&[]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_scheduling(&dir.join("server"), &flags)?;
    let backoff = backoff_ms.to_string();
    let agent = Agent::start(
        &server.url(),
        &dir.join("agent"),
        "node-a",
        &[
            "--cpu",
            "4",
            "--memory",
            "4Gi",
            "--crash-backoff-ms",
            &backoff,
            "--crash-backoff-max-ms",
            "20000",
            "--lease-renew-ms",
            "300",
        ],
    )?;
    let client = server.client()?;
    Ok((server, agent, client))
}

async fn pod_state(pods: &Api<Pod>, name: &str) -> Result<Value> {
    Ok(pod_json(&pods.get(name).await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_registers_keeps_its_lease_and_runs_a_deployment_of_wasi_pods() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, mut agent, client) = start(dir.path(), 10_000)?;
    let nodes: Api<Node> = Api::all(client.clone());
    let node = eventually(
        Duration::from_secs(30),
        "the node registering Ready",
        || async { Ok(serde_json::to_value(nodes.get("node-a").await?)?) },
        |node| {
            node["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        },
    )
    .await?;
    assert_eq!(node["status"]["capacity"]["cpu"], "4");
    assert_eq!(node["status"]["allocatable"]["memory"], "4Gi");
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/hostname"],
        "node-a"
    );
    assert_eq!(node["status"]["runtimeHandlers"][0]["name"], "wasm");

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let renewed = |lease: &Lease| lease.spec.as_ref().and_then(|s| s.renew_time.clone());
    let first = eventually(
        Duration::from_secs(10),
        "the lease",
        || async { Ok(leases.get("node-a").await?) },
        |lease| renewed(lease).is_some(),
    )
    .await?;
    let first_renewal = renewed(&first);
    let later = eventually(
        Duration::from_secs(10),
        "the lease being renewed",
        || async { Ok(leases.get("node-a").await?) },
        |lease| renewed(lease) != first_renewal,
    )
    .await?;
    assert_eq!(
        later.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("node-a")
    );

    let deployment = format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ticker}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: ticker}}}}
  template:
    metadata: {{labels: {{app: ticker}}}}
    spec:
      containers:
      - name: ticker
        image: {WORKLOAD_IMAGE}
        args: [print, started, tick, "100"]
        resources: {{limits: {{cpu: 200m, memory: 64Mi}}}}
"#
    );
    stdout_ok(&server.kubectl(&["apply", "-f", "-"], Some(&deployment))?)?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    eventually(
        Duration::from_secs(60),
        "the deployment becoming available",
        || async { Ok(deployments.get("ticker").await?) },
        |d| {
            d.status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .is_some_and(|r| r == 3)
        },
    )
    .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let listed = pods
        .list(&kube::api::ListParams::default().labels("app=ticker"))
        .await?;
    assert_eq!(listed.items.len(), 3);
    for pod in &listed.items {
        let pod = pod_json(pod);
        assert_eq!(pod["status"]["phase"], "Running", "{pod:#}");
        assert_eq!(pod["status"]["podIP"], "127.0.0.1");
        assert!(
            pod["status"]["containerStatuses"][0]["containerID"]
                .as_str()
                .is_some_and(|id| id.starts_with("wasm://")),
            "{pod:#}"
        );
    }
    let name = listed.items[0].metadata.name.clone().unwrap_or_default();
    let logs = eventually(
        Duration::from_secs(10),
        "the pod's output in kubectl logs",
        || async { stdout_ok(&server.kubectl(&["logs", &name], None)?) },
        |out| out.contains("tick 2"),
    )
    .await?;
    assert!(logs.starts_with("started\ntick 0\n"), "{logs}");

    // Scaling down stops pods; the agent lets them go.
    stdout_ok(&server.kubectl(&["scale", "deployment/ticker", "--replicas=1"], None)?)?;
    eventually(
        Duration::from_secs(30),
        "the deployment scaling down",
        || async {
            Ok(pods
                .list(&kube::api::ListParams::default().labels("app=ticker"))
                .await?
                .items
                .len())
        },
        |n| *n == 1,
    )
    .await?;

    // An agent that restarts runs its pods again: each container counts a restart, and
    // the run before is still there for --previous.
    let left = pods
        .list(&kube::api::ListParams::default().labels("app=ticker"))
        .await?
        .items;
    let name = left
        .first()
        .and_then(|p| p.metadata.name.clone())
        .unwrap_or_default();
    agent.kill9()?;
    drop(agent);
    let _agent = Agent::start(
        &server.url(),
        &dir.path().join("agent"),
        "node-a",
        &["--cpu", "4", "--memory", "4Gi"],
    )?;
    let restarted = eventually(
        Duration::from_secs(30),
        "the pod running again after the agent restarted",
        || pod_state(&pods, &name),
        |pod| {
            let status = &pod["status"]["containerStatuses"][0];
            status["restartCount"] == 1 && status["state"]["running"].is_object()
        },
    )
    .await?;
    assert_eq!(restarted["status"]["phase"], "Running");
    let previous = stdout_ok(&server.kubectl(&["logs", &name, "--previous"], None)?)?;
    assert!(previous.starts_with("started\ntick 0\n"), "{previous}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_backs_off_with_growing_delays() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, _agent, client) = start(dir.path(), 300)?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod(
            "crasher",
            json!({"containers": [{"name": "app", "image": WORKLOAD_IMAGE,
                "args": ["print", "run-output", "exit", "1"]}]}),
        )?,
    )
    .await?;
    // When each run started, as the test sees the restart count move.
    let mut seen: Vec<(i64, Instant)> = Vec::new();
    let mut back_off_seen = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 5 && Instant::now() < deadline {
        let pod = pod_state(&pods, "crasher").await?;
        let status = &pod["status"]["containerStatuses"][0];
        let restarts = status["restartCount"].as_i64().unwrap_or(-1);
        if status["state"]["waiting"]["reason"] == "CrashLoopBackOff" {
            back_off_seen = Some(status.clone());
        }
        if restarts >= 0 && seen.last().is_none_or(|(n, _)| *n < restarts) {
            seen.push((restarts, Instant::now()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen.len() >= 5, "restarts seen: {seen:?}");
    // From the first restart on (the first sighting also holds the pod's start): each
    // restart waits twice as long as the one before.
    let gaps: Vec<Duration> = seen[1..].windows(2).map(|w| w[1].1 - w[0].1).collect();
    for pair in gaps.windows(2) {
        assert!(
            pair[1] > pair[0].mul_f64(1.4),
            "back-off grows: {gaps:?} (restart counts {:?})",
            seen.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
    }
    let back_off = back_off_seen.unwrap_or_default();
    // WASI 0.2 programs end in success or failure: exit codes are 0 or 1.
    assert_eq!(
        back_off["lastState"]["terminated"]["exitCode"], 1,
        "{back_off:#}"
    );
    assert!(
        back_off["state"]["waiting"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("back-off")),
        "{back_off:#}"
    );
    let pod = pod_state(&pods, "crasher").await?;
    assert_eq!(
        pod["status"]["phase"], "Running",
        "a pod restarting is Running"
    );

    let previous = stdout_ok(&server.kubectl(&["logs", "crasher", "--previous"], None)?)?;
    assert_eq!(previous, "run-output\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_images_memory_limits_environment_and_init_containers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // A second between pull attempts: long enough to see ErrImagePull before the back-off.
    let (server, _agent, client) = start(dir.path(), 1000)?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let settings = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings"}, "data": {"color": "blue"}});
    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &serde_json::from_value(settings)?)
        .await?;
    let create = |name: &str, spec: Value| {
        let pods = pods.clone();
        let pod = pod(name, spec);
        async move { anyhow::Ok(pods.create(&PostParams::default(), &pod?).await?) }
    };
    create(
        "missing",
        json!({"containers": [{"name": "app", "image": "keel.test/missing:v1"}]}),
    )
    .await?;
    create(
        "hungry",
        json!({"restartPolicy": "Never", "containers": [{"name": "app", "image": WORKLOAD_IMAGE,
            "args": ["alloc", "64"], "resources": {"limits": {"memory": "16Mi"}}}]}),
    )
    .await?;
    create(
        "configured",
        json!({"restartPolicy": "Never",
            "initContainers": [{"name": "setup", "image": WORKLOAD_IMAGE, "args": ["print", "setting up"]}],
            "containers": [{"name": "app", "image": WORKLOAD_IMAGE,
                "args": ["env", "GREETING", "env", "POD_NAME", "env", "COLOR"],
                "env": [
                    {"name": "WHO", "value": "world"},
                    {"name": "GREETING", "value": "hello $(WHO)"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
                ]}]}),
    )
    .await?;

    let waiting_reason =
        |pod: &Value| pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].clone();
    eventually(
        Duration::from_secs(30),
        "ErrImagePull",
        || pod_state(&pods, "missing"),
        |pod| waiting_reason(pod) == "ErrImagePull",
    )
    .await?;
    let backing_off = eventually(
        Duration::from_secs(30),
        "ImagePullBackOff",
        || pod_state(&pods, "missing"),
        |pod| waiting_reason(pod) == "ImagePullBackOff",
    )
    .await?;
    assert_eq!(backing_off["status"]["phase"], "Pending");
    assert!(
        backing_off["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("keel.test/missing:v1")),
        "{backing_off:#}"
    );

    let hungry = eventually(
        Duration::from_secs(30),
        "the memory limit ending the run",
        || pod_state(&pods, "hungry"),
        |pod| pod["status"]["phase"] == "Failed",
    )
    .await?;
    let terminated = &hungry["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(terminated["reason"], "OOMKilled", "{hungry:#}");
    assert_eq!(terminated["exitCode"], 137);

    create(
        "talker",
        json!({"restartPolicy": "Never", "containers": [{"name": "app", "image": WORKLOAD_IMAGE,
            "args": ["print", "first", "sleep", "1500", "print", "second"]}]}),
    )
    .await?;
    eventually(
        Duration::from_secs(30),
        "the talker running",
        || pod_state(&pods, "talker"),
        |pod| pod["status"]["phase"] == "Running",
    )
    .await?;
    // Followed while it runs: the log holds both lines and ends when the run does.
    let followed = server.kubectl(&["logs", "-f", "talker"], None)?;
    assert_eq!(stdout_ok(&followed)?, "first\nsecond\n");
    let talker = pod_state(&pods, "talker").await?;
    assert_eq!(
        talker["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed",
        "the follow ended with the run: {talker:#}"
    );

    let configured = eventually(
        Duration::from_secs(30),
        "the configured pod completing",
        || pod_state(&pods, "configured"),
        |pod| pod["status"]["phase"] == "Succeeded",
    )
    .await?;
    assert_eq!(
        configured["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    let logs = stdout_ok(&server.kubectl(&["logs", "configured", "-c", "app"], None)?)?;
    assert_eq!(
        logs,
        "GREETING=hello world\nPOD_NAME=configured\nCOLOR=blue\n"
    );
    let setup = stdout_ok(&server.kubectl(&["logs", "configured", "-c", "setup"], None)?)?;
    assert_eq!(setup, "setting up\n");
    let refused = server.kubectl(&["logs", "configured", "-c", "nope"], None)?;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("container nope is not valid"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    Ok(())
}
