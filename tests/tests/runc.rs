//! OCI containers on the `runc` runtime, against a real `keel server` and `keel agent`
//! (which call Debian's `runc`; these tests run as root, as a node agent does). The image
//! is busybox, built from Debian's `busybox-static` and imported with `keel image import`.
//!
//! - A pod of RuntimeClass `runc` runs its command in the image's root filesystem with its
//!   environment and working directory; its exit code, output and containerID are
//!   reported; a container with no command runs the image's `Cmd`; a command that is not
//!   in the image is `StartError` (128); a container past its memory limit is
//!   `OOMKilled` by the kernel.
//! - Probes: a failing liveness probe restarts its container; a readiness probe gates the
//!   container's `ready` and the pod's Ready condition, both ways; `httpGet`, `tcpSocket`
//!   and startup probes pass against busybox `httpd`.
//! - Volumes: an emptyDir shared by an init container and the main one, ConfigMap `items`
//!   at their paths, a Secret with its `defaultMode`, read-only mounts; the same volumes
//!   as preopened directories of a WASI pod.
//! - A pod that is deleted is stopped with SIGTERM, or SIGKILL after its grace period, and
//!   leaves no runc container, mount, bundle, cgroup, network namespace or address behind.
//! - Networking: the node gets a pod CIDR from the node IPAM controller, each runc pod an
//!   address in it from the host-local network plugin, in a network namespace of its own on
//!   the node's bridge; busybox `wget` in one pod fetches a page from `httpd` in another by
//!   pod IP.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Node, Pod};
use keel_tests::agent::{WORKLOAD_IMAGE, eventually, pod, pod_json};
use keel_tests::busybox::BUSYBOX_IMAGE;
use keel_tests::netns;
use keel_tests::runc_cluster::{runc_pod, start, terminated};
use keel_tests::stdout_ok;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oci_container_runs_in_its_image_with_its_spec_and_limits() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, _agent, client, _cidr) = start(dir.path()).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let shell =
        "echo hello from $GREETING; pwd; hostname; test -x /bin/busybox && echo rootfs ok; exit 3";
    pods.create(
        &PostParams::default(),
        &runc_pod(
            "once",
            json!({
                "command": ["sh", "-c", shell],
                "workingDir": "/tmp",
                "env": [{"name": "GREETING", "value": "runc"}],
                "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
            }),
        )?,
    )
    .await?;
    let once = terminated(&pods, "once").await?;
    let status = &once["status"]["containerStatuses"][0];
    assert_eq!(once["status"]["phase"], "Failed", "{once:#}");
    assert_eq!(status["state"]["terminated"]["exitCode"], 3, "{once:#}");
    assert_eq!(status["state"]["terminated"]["reason"], "Error");
    assert!(
        status["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("runc://")),
        "{status:#}"
    );
    assert!(
        status["imageID"]
            .as_str()
            .is_some_and(|id| id.starts_with("sha256:")),
        "{status:#}"
    );
    let logs = stdout_ok(&server.kubectl(&["logs", "once"], None)?)?;
    assert_eq!(logs, "hello from runc\n/tmp\nonce\nrootfs ok\n");

    // No command: the image's Cmd (`sh`, whose stdin is empty) runs and ends well.
    pods.create(&PostParams::default(), &runc_pod("default-cmd", json!({}))?)
        .await?;
    let default_cmd = terminated(&pods, "default-cmd").await?;
    assert_eq!(
        default_cmd["status"]["phase"], "Succeeded",
        "{default_cmd:#}"
    );
    assert_eq!(
        default_cmd["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );

    // A command the image does not have.
    pods.create(
        &PostParams::default(),
        &runc_pod("no-such-command", json!({"command": ["/bin/not-there"]}))?,
    )
    .await?;
    let missing = terminated(&pods, "no-such-command").await?;
    let ended = &missing["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(ended["reason"], "StartError", "{missing:#}");
    assert_eq!(ended["exitCode"], 128);
    assert!(
        ended["message"]
            .as_str()
            .is_some_and(|m| m.contains("not-there")),
        "{missing:#}"
    );

    // Doubling a shell string past a 16Mi limit: the kernel's OOM killer ends it.
    pods.create(
        &PostParams::default(),
        &runc_pod(
            "hungry",
            json!({
                "command": ["sh", "-c", "x=0123456789abcdef; while true; do x=$x$x; done"],
                "resources": {"limits": {"memory": "16Mi"}},
            }),
        )?,
    )
    .await?;
    let hungry = terminated(&pods, "hungry").await?;
    let ended = &hungry["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(ended["reason"], "OOMKilled", "{hungry:#}");
    assert_eq!(ended["exitCode"], 137);
    Ok(())
}

/// What the agent at `data_dir` holds of runc containers: their ids in its runc state
/// root, mounts under its data directory, and bundles.
fn runc_leftovers(data_dir: &Path) -> Result<Vec<String>> {
    let state = data_dir.join("runc/state");
    let listed = std::process::Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["list", "-q"])
        .output()?;
    let mut left: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|id| format!("container {id}"))
        .collect();
    let data = data_dir.display().to_string();
    for line in std::fs::read_to_string("/proc/self/mountinfo")?.lines() {
        if line.contains(&data) {
            left.push(format!("mount {line}"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(data_dir.join("runc/bundles")) {
        for entry in entries.flatten() {
            left.push(format!("bundle {}", entry.path().display()));
        }
    }
    Ok(left)
}

/// What the agent at `data_dir` holds of the networks of pods `uids`: their network
/// namespaces, and address records.
fn network_leftovers(data_dir: &Path, uids: &[String]) -> Result<Vec<String>> {
    let names = netns::namespaces()?;
    let mut left: Vec<String> = uids
        .iter()
        .map(|uid| format!("keel-{uid}"))
        .filter(|n| names.contains(n))
        .map(|n| format!("netns {n}"))
        .collect();
    left.extend(
        address_records(data_dir)
            .into_iter()
            .map(|r| format!("address record {r}")),
    );
    Ok(left)
}

/// The cgroups of `uid`'s runs, in either cgroup version's layout.
fn cgroups_of(uid: &str) -> Vec<String> {
    ["/sys/fs/cgroup/memory/keel", "/sys/fs/cgroup/keel"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(uid))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_is_stopped_and_leaves_nothing_behind() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (_server, agent, client, _cidr) = start(dir.path()).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // One container ends on SIGTERM; the other ignores it and is killed after the pod's
    // one-second grace period.
    let spec = json!({
        "runtimeClassName": "runc",
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {"name": "polite", "image": BUSYBOX_IMAGE,
             "command": ["sh", "-c", "trap 'exit 0' TERM; echo up; while true; do sleep 0.1; done"]},
            {"name": "stubborn", "image": BUSYBOX_IMAGE,
             "command": ["sh", "-c", "trap '' TERM; echo up; while true; do sleep 0.1; done"]},
        ],
    });
    let created = pods
        .create(&PostParams::default(), &pod("long", spec)?)
        .await?;
    let uid = created.metadata.uid.clone().unwrap_or_default();
    eventually(
        Duration::from_secs(60),
        "both containers running",
        || async { Ok(pod_json(&pods.get("long").await?)) },
        |pod| {
            pod["status"]["containerStatuses"]
                .as_array()
                .is_some_and(|list| {
                    list.len() == 2 && list.iter().all(|c| c["state"]["running"].is_object())
                })
        },
    )
    .await?;
    // `running` is reported once runc has made the container; its cgroups show in the
    // hierarchy of each controller.
    let data_dir = agent.data_dir.clone();
    eventually(
        Duration::from_secs(10),
        "one cgroup and one runc container per running container",
        || async {
            let containers = runc_leftovers(&data_dir)?
                .iter()
                .filter(|l| l.starts_with("container"))
                .count();
            Ok((cgroups_of(&uid).len(), containers))
        },
        |seen| *seen == (2, 2),
    )
    .await?;

    // A running pod is marked with its grace period, not removed at once; its agent stops
    // it and then removes it.
    let deleted = pods.delete("long", &DeleteParams::default()).await?;
    let marked = pod_json(
        &deleted
            .left()
            .context("the running pod was removed at once")?,
    );
    assert_eq!(
        marked["metadata"]["deletionGracePeriodSeconds"], 1,
        "{marked:#}"
    );
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    eventually(
        Duration::from_secs(20),
        "the agent removing the pod",
        || async { Ok(pods.get_opt("long").await?.is_none()) },
        |gone| *gone,
    )
    .await?;
    let left = eventually(
        Duration::from_secs(20),
        "the pod's containers, mounts, bundles and cgroups going away",
        || async {
            let mut left = runc_leftovers(&data_dir)?;
            left.extend(cgroups_of(&uid).into_iter().map(|c| format!("cgroup {c}")));
            left.extend(network_leftovers(&data_dir, std::slice::from_ref(&uid))?);
            Ok(left)
        },
        Vec::is_empty,
    )
    .await?;
    assert!(left.is_empty());

    // A delete with a grace period of 0 removes a running pod at once.
    let mut forced = runc_pod("forced", json!({"command": ["sleep", "3600"]}))?;
    if let Some(spec) = forced.spec.as_mut() {
        // sleep as PID 1 ignores SIGTERM: killed one second into its grace period.
        spec.termination_grace_period_seconds = Some(1);
    }
    pods.create(&PostParams::default(), &forced).await?;
    eventually(
        Duration::from_secs(60),
        "forced running",
        || async { Ok(pod_json(&pods.get("forced").await?)) },
        |pod| pod["status"]["containerStatuses"][0]["state"]["running"].is_object(),
    )
    .await?;
    pods.delete("forced", &DeleteParams::default().grace_period(0))
        .await?;
    assert!(pods.get_opt("forced").await?.is_none());
    eventually(
        Duration::from_secs(20),
        "the forced pod's containers going away",
        || async { runc_leftovers(&data_dir) },
        Vec::is_empty,
    )
    .await?;
    Ok(())
}

fn ready_condition(pod: &Value) -> Option<&str> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["status"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_restart_unhealthy_containers_and_gate_readiness() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (_server, _agent, client, _cidr) = start(dir.path()).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let exec_probe = |file: &str| json!({"exec": {"command": ["test", "-f", file]}, "periodSeconds": 1, "failureThreshold": 1});

    // Healthy for two seconds, then its liveness probe fails: it is killed and runs again.
    let liveness = json!({
        "runtimeClassName": "runc", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": BUSYBOX_IMAGE,
            "command": ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; while true; do sleep 0.1; done"],
            "livenessProbe": exec_probe("/tmp/healthy")}],
    });
    pods.create(&PostParams::default(), &pod("unhealthy", liveness)?)
        .await?;

    // Ready after two seconds, not ready three seconds later.
    let readiness = json!({
        "runtimeClassName": "runc", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": BUSYBOX_IMAGE,
            "command": ["sh", "-c", "sleep 2; touch /tmp/ready; sleep 3; rm /tmp/ready; while true; do sleep 0.1; done"],
            "readinessProbe": exec_probe("/tmp/ready")}],
    });
    pods.create(&PostParams::default(), &pod("flapping", readiness)?)
        .await?;

    // httpd in the pod's network namespace, probed at the pod's IP.
    let port = 8080;
    let web = json!({
        "runtimeClassName": "runc", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": BUSYBOX_IMAGE,
            "command": ["sh", "-c", format!("echo ok > /www/index.html; exec httpd -f -p {port} -h /www")],
            "ports": [{"name": "http", "containerPort": port}],
            "startupProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1, "failureThreshold": 10},
            "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
            "readinessProbe": {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1}}],
    });
    pods.create(&PostParams::default(), &pod("web", web)?)
        .await?;

    let restarted = eventually(
        Duration::from_secs(60),
        "the unhealthy container restarted",
        || async { Ok(pod_json(&pods.get("unhealthy").await?)) },
        |pod| pod["status"]["containerStatuses"][0]["restartCount"].as_u64() >= Some(1),
    )
    .await?;
    let last = &restarted["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert_eq!(
        last["exitCode"], 137,
        "killed after its grace period: {restarted:#}"
    );

    let get = || async { Ok(pod_json(&pods.get("flapping").await?)) };
    let running_unready = eventually(Duration::from_secs(60), "flapping running", get, |pod| {
        pod["status"]["containerStatuses"][0]["state"]["running"].is_object()
    })
    .await?;
    if ready_condition(&running_unready) == Some("False") {
        assert_eq!(
            running_unready["status"]["containerStatuses"][0]["ready"],
            false
        );
    }
    eventually(Duration::from_secs(20), "flapping ready", get, |pod| {
        ready_condition(pod) == Some("True")
            && pod["status"]["containerStatuses"][0]["ready"] == true
    })
    .await?;
    let unready = eventually(
        Duration::from_secs(20),
        "flapping not ready again",
        get,
        |pod| ready_condition(pod) == Some("False"),
    )
    .await?;
    assert_eq!(unready["status"]["containerStatuses"][0]["ready"], false);
    assert_eq!(
        unready["status"]["containerStatuses"][0]["restartCount"], 0,
        "readiness never restarts"
    );

    let web = eventually(
        Duration::from_secs(30),
        "web ready",
        || async { Ok(pod_json(&pods.get("web").await?)) },
        |pod| ready_condition(pod) == Some("True"),
    )
    .await?;
    assert_eq!(
        web["status"]["containerStatuses"][0]["restartCount"], 0,
        "{web:#}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_shared_and_filled_from_configmaps_and_secrets() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, _agent, client, _cidr) = start(dir.path()).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let objects = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {app.conf: "mode=prod\n", other: "x"}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {token: s3cret}
"#;
    stdout_ok(&server.kubectl(&["apply", "-f", "-"], Some(objects))?)?;
    let volumes = json!([
        {"name": "shared", "emptyDir": {}},
        {"name": "config", "configMap": {"name": "app-config", "items": [{"key": "app.conf", "path": "conf/app.conf"}]}},
        {"name": "secret", "secret": {"secretName": "app-secret", "defaultMode": 256}},
    ]);
    let mounts = json!([
        {"name": "shared", "mountPath": "/shared"},
        {"name": "config", "mountPath": "/config", "readOnly": true},
        {"name": "secret", "mountPath": "/secret", "readOnly": true},
    ]);
    // runc: an init container fills the emptyDir; the main container reads every volume.
    let shell = "cat /shared/greeting /config/conf/app.conf /secret/token; echo; \
                 test -e /config/other || echo items only; \
                 stat -c %a /secret/token 2>/dev/null || ls -l /secret/token | cut -c1-10; \
                 touch /config/new 2>/dev/null || echo read-only";
    let spec = json!({
        "runtimeClassName": "runc", "restartPolicy": "Never", "volumes": volumes,
        "initContainers": [{"name": "fill", "image": BUSYBOX_IMAGE, "volumeMounts": mounts,
            "command": ["sh", "-c", "echo hello > /shared/greeting"]}],
        "containers": [{"name": "main", "image": BUSYBOX_IMAGE, "volumeMounts": mounts,
            "command": ["sh", "-c", shell]}],
    });
    pods.create(&PostParams::default(), &pod("volumes-runc", spec)?)
        .await?;
    let done = terminated(&pods, "volumes-runc").await?;
    assert_eq!(done["status"]["phase"], "Succeeded", "{done:#}");
    let logs = stdout_ok(&server.kubectl(&["logs", "volumes-runc"], None)?)?;
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(
        &lines[..4],
        ["hello", "mode=prod", "s3cret", "items only"],
        "{logs}"
    );
    assert!(lines[4] == "400" || lines[4] == "-r--------", "{logs}");
    assert_eq!(lines[5], "read-only", "{logs}");

    // wasm: the same volumes as preopened directories.
    let spec = json!({
        "restartPolicy": "Never", "volumes": volumes,
        "initContainers": [{"name": "fill", "image": WORKLOAD_IMAGE, "volumeMounts": mounts,
            "args": ["write", "/shared/greeting", "hello from wasm\n"]}],
        "containers": [{"name": "main", "image": WORKLOAD_IMAGE, "volumeMounts": mounts,
            "args": ["cat", "/shared/greeting", "cat", "/config/conf/app.conf", "cat", "/secret/token",
                     "write", "/config/new", "x"]}],
    });
    pods.create(&PostParams::default(), &pod("volumes-wasm", spec)?)
        .await?;
    let done = terminated(&pods, "volumes-wasm").await?;
    let ended = &done["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        ended["exitCode"], 1,
        "the write to a read-only volume fails: {done:#}"
    );
    let logs = stdout_ok(&server.kubectl(&["logs", "volumes-wasm"], None)?)?;
    // stdout and stderr are separate streams: compare lines, not their order.
    let lines: Vec<&str> = logs.lines().collect();
    for line in ["hello from wasm", "mode=prod", "s3cret"] {
        assert!(lines.contains(&line), "{line:?} in {logs}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("/config/new: ")),
        "the failed write is reported: {logs}"
    );
    Ok(())
}

/// The node's `spec.podCIDR`, once the node IPAM controller gave it one.
async fn pod_cidr(client: &kube::Client, node: &str) -> Result<String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = eventually(
        Duration::from_secs(30),
        "the node's pod CIDR",
        || async { Ok(serde_json::to_value(nodes.get(node).await?)?) },
        |node| node["spec"]["podCIDR"].is_string(),
    )
    .await?;
    Ok(node["spec"]["podCIDR"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// The agent's address records (`<agent-data>/network/addresses`).
fn address_records(data_dir: &Path) -> Vec<String> {
    std::fs::read_dir(data_dir.join("network/addresses"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_a_node_reach_each_other_by_pod_ip() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, agent, client, cidr) = start(dir.path()).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let node_cidr = pod_cidr(&client, "node-r").await?;
    assert!(
        cidr.contains(node_cidr.split('/').next().unwrap_or_default()),
        "{node_cidr}"
    );

    // busybox httpd serving a page, Ready once its port answers.
    let serve =
        "mkdir -p /www && echo hello from web > /www/index.html && exec httpd -f -p 8080 -h /www";
    let mut web = runc_pod(
        "web",
        json!({"command": ["sh", "-c", serve],
               "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}),
    )?;
    if let Some(spec) = web.spec.as_mut() {
        spec.restart_policy = Some("Always".into());
        // httpd as PID 1 ignores SIGTERM: killed one second into its grace period.
        spec.termination_grace_period_seconds = Some(1);
    }
    let web = pods.create(&PostParams::default(), &web).await?;
    let web_uid = web.metadata.uid.clone().unwrap_or_default();
    let ready = eventually(
        Duration::from_secs(60),
        "web Ready",
        || async { Ok(pod_json(&pods.get("web").await?)) },
        |pod| ready_condition(pod) == Some("True"),
    )
    .await?;
    let web_ip = ready["status"]["podIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        cidr.contains(&web_ip),
        "web's podIP {web_ip} is in {node_cidr}"
    );
    assert_eq!(ready["status"]["podIPs"][0]["ip"], web_ip.as_str());
    assert!(
        netns::namespaces()?.contains(&format!("keel-{web_uid}")),
        "web has its network namespace"
    );

    // Another pod fetches the page by web's pod IP.
    let fetch = pods
        .create(
            &PostParams::default(),
            &runc_pod(
                "fetch",
                json!({"command": ["wget", "-q", "-O", "-", format!("http://{web_ip}:8080/")]}),
            )?,
        )
        .await?;
    let fetch_uid = fetch.metadata.uid.clone().unwrap_or_default();
    let fetched = terminated(&pods, "fetch").await?;
    let fetch_ip = fetched["status"]["podIP"].as_str().unwrap_or_default();
    assert!(
        cidr.contains(fetch_ip) && fetch_ip != web_ip,
        "fetch's podIP {fetch_ip}"
    );
    assert_eq!(
        fetched["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0,
        "{fetched:#}"
    );
    let page = stdout_ok(&server.kubectl(&["logs", "fetch"], None)?)?;
    assert_eq!(page, "hello from web\n");
    assert_eq!(address_records(&agent.data_dir).len(), 2);

    // Deleted: namespaces, veth pairs and addresses go.
    pods.delete("web", &DeleteParams::default()).await?;
    pods.delete("fetch", &DeleteParams::default()).await?;
    let data_dir = agent.data_dir.clone();
    eventually(
        Duration::from_secs(30),
        "the pods' namespaces and addresses going away",
        || async { network_leftovers(&data_dir, &[web_uid.clone(), fetch_uid.clone()]) },
        Vec::is_empty,
    )
    .await?;
    Ok(())
}

/// Pods in flight at once in the leak test, and rounds of them.
const LEAK_BATCH: usize = 20;
const LEAK_ROUNDS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pods_created_and_deleted_leave_nothing_behind() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (_server, agent, client, cidr) = start(dir.path()).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let labelled = ListParams::default().labels("cycle=leak");
    let mut uids: Vec<String> = Vec::new();
    for round in 0..LEAK_ROUNDS {
        for i in 0..LEAK_BATCH {
            let mut pod = pod(
                &format!("leak-{round}-{i}"),
                json!({"runtimeClassName": "runc", "terminationGracePeriodSeconds": 1,
                       "containers": [{"name": "main", "image": BUSYBOX_IMAGE,
                           "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]}),
            )?;
            pod.metadata.labels = Some([("cycle".to_string(), "leak".to_string())].into());
            let created = pods.create(&PostParams::default(), &pod).await?;
            uids.push(created.metadata.uid.unwrap_or_default());
        }
        // Every pod of the round running, each with an address of its own.
        let running = eventually(
            Duration::from_secs(120),
            &format!("round {round} running"),
            || async { Ok(pods.list(&labelled).await?.items) },
            |list| {
                list.len() == LEAK_BATCH
                    && list.iter().all(|p| {
                        let p = pod_json(p);
                        p["status"]["containerStatuses"][0]["state"]["running"].is_object()
                    })
            },
        )
        .await?;
        let mut ips: Vec<String> = running
            .iter()
            .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
            .collect();
        assert!(
            ips.iter().all(|ip| cidr.contains(ip)),
            "round {round}: {ips:?}"
        );
        ips.sort();
        ips.dedup();
        assert_eq!(
            ips.len(),
            LEAK_BATCH,
            "round {round}: addresses are distinct"
        );
        pods.delete_collection(&DeleteParams::default(), &labelled)
            .await?;
        eventually(
            Duration::from_secs(120),
            &format!("round {round} gone"),
            || async { Ok(pods.list(&labelled).await?.items.len()) },
            |left| *left == 0,
        )
        .await?;
    }
    assert_eq!(uids.len(), LEAK_BATCH * LEAK_ROUNDS);
    let data_dir = agent.data_dir.clone();
    let left = eventually(
        Duration::from_secs(60),
        "no container, mount, bundle, cgroup, network namespace or address left",
        || async {
            let mut left = runc_leftovers(&data_dir)?;
            left.extend(network_leftovers(&data_dir, &uids)?);
            for uid in &uids {
                left.extend(cgroups_of(uid).into_iter().map(|c| format!("cgroup {c}")));
            }
            Ok(left)
        },
        Vec::is_empty,
    )
    .await?;
    assert!(left.is_empty());
    Ok(())
}
