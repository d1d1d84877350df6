//! Admission through kube-rs and kubectl, against a real `keel server` started with the
//! default admission chain (schema, namespace-lifecycle, limit-ranger, pod-security,
//! image-policy, resource-quota): each default plugin allowing and denying, `dryRun=All`,
//! 50 clients racing for a quota's last slots, a policy swapped live from warn to enforce,
//! and failure policies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, Pod, ResourceQuota, Service};
use keel_plugin_artifacts as artifacts;
use keel_tests::{Server, http_full};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The default chain, in order, with the spec files `keel up` gives it.
fn chain_flags() -> Vec<String> {
    artifacts::ADMISSION_CHAIN
        .iter()
        .flat_map(|&(name, path, has_spec)| {
            let mut flags = vec!["--plugin".to_string(), format!("{name}=admission:{path}")];
            if has_spec {
                let spec = artifacts::deploy_spec(name);
                flags.extend([
                    "--plugin-spec".to_string(),
                    format!("{name}={}", spec.display()),
                ]);
            }
            flags
        })
        .collect()
}

async fn start() -> Result<(tempfile::TempDir, Server, kube::Client)> {
    let dir = tempfile::tempdir()?;
    let flags = chain_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start(&dir.path().join("data"), &flags)?;
    let client = server.client()?;
    Ok((dir, server, client))
}

fn pod(name: &str, image: &str) -> Pod {
    let Ok(pod) = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": image}]}
    })) else {
        panic!("pod literal")
    };
    pod
}

fn from_json<T: k8s_openapi::serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    Ok(serde_json::from_value(value)?)
}

async fn namespace(client: &kube::Client, name: &str, labels: Value) -> Result<()> {
    let ns: Namespace = from_json(json!({"metadata": {"name": name, "labels": labels}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

/// The `keel.dev/v1alpha1` Plugins, through kube-rs' dynamic API.
fn plugins_api(client: &kube::Client) -> Api<kube::api::DynamicObject> {
    Api::all_with(
        client.clone(),
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("keel.dev", "v1alpha1", "Plugin"),
            "plugins",
        ),
    )
}

/// Asserts that a request was refused 403 for going over quota `name`.
fn over_quota<T: std::fmt::Debug>(result: Result<T, kube::Error>, name: &str) -> Result<()> {
    let status = refused(result)?;
    assert_eq!(status.code, 403, "{}", status.message);
    assert!(
        status.message.contains(&format!("exceeded quota: {name}")),
        "{}",
        status.message
    );
    Ok(())
}

/// The `Status` of a refused request.
fn refused<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Result<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => Ok(*status),
        other => bail!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_namespace_lifecycle_and_image_policy_deny_with_kubernetes_statuses() -> Result<()> {
    let (_dir, _server, client) = start().await?;
    let pods = Api::<Pod>::namespaced(client.clone(), "default");

    // Schema validation: a container without an image is invalid (422).
    let no_image: Pod = from_json(json!({"metadata": {"name": "no-image"},
        "spec": {"containers": [{"name": "app"}]}}))?;
    let status = refused(pods.create(&PostParams::default(), &no_image).await)?;
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.contains("Pod \"no-image\" is invalid")
            && status.message.contains("admission plugin \"schema\"")
            && status
                .message
                .contains("spec.containers[0].image: Required value"),
        "{}",
        status.message
    );
    let bad_port: Pod = from_json(json!({"metadata": {"name": "bad-port"},
        "spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 70000}]}]}}))?;
    let status = refused(pods.create(&PostParams::default(), &bad_port).await)?;
    assert_eq!(status.code, 422, "{}", status.message);
    assert!(
        status.message.contains("containerPort"),
        "{}",
        status.message
    );
    pods.create(&PostParams::default(), &pod("fine", "nginx"))
        .await?;

    // NamespaceLifecycle: no objects in a namespace that does not exist (404).
    let nowhere = Api::<Pod>::namespaced(client.clone(), "nowhere");
    let status = refused(
        nowhere
            .create(&PostParams::default(), &pod("p", "nginx"))
            .await,
    )?;
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert!(
        status.message.contains("namespaces \"nowhere\" not found"),
        "{}",
        status.message
    );
    // ... and a namespace created just before is seen at once (the cache waits for it).
    namespace(&client, "fresh", json!({})).await?;
    Api::<Pod>::namespaced(client.clone(), "fresh")
        .create(&PostParams::default(), &pod("p", "nginx"))
        .await?;

    // Image policy, configured live: only docker.io/library/ in `locked`.
    namespace(&client, "locked", json!({})).await?;
    let plugins = plugins_api(&client);
    let config = json!({"spec": {"config": {"namespaces": {"locked": ["docker.io/library/"]}}}});
    plugins
        .patch(
            "image-policy",
            &PatchParams::default(),
            &Patch::Merge(&config),
        )
        .await?;
    let locked = Api::<Pod>::namespaced(client.clone(), "locked");
    let status = loop_until_refused(&locked, "evil", "evil.example/miner").await?;
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert!(
        status.message.contains("pods \"evil\" is forbidden")
            && status.message.contains("admission plugin \"image-policy\"")
            && status.message.contains("evil.example/miner"),
        "{}",
        status.message
    );
    locked
        .create(
            &PostParams::default(),
            &pod("ok", "docker.io/library/nginx"),
        )
        .await?;
    // Other namespaces are not locked.
    pods.create(
        &PostParams::default(),
        &pod("elsewhere", "evil.example/miner"),
    )
    .await?;
    Ok(())
}

/// Creates pod `name` until the (just reconfigured) chain refuses it; deletes what got in.
async fn loop_until_refused(
    pods: &Api<Pod>,
    name: &str,
    image: &str,
) -> Result<kube::core::Status> {
    for _ in 0..100 {
        match pods.create(&PostParams::default(), &pod(name, image)).await {
            Err(kube::Error::Api(status)) => return Ok(*status),
            Err(other) => return Err(other.into()),
            Ok(_) => {
                pods.delete(name, &DeleteParams::default()).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    bail!("pod {name} with {image} was never refused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_ranger_defaults_and_bounds_resources() -> Result<()> {
    let (_dir, _server, client) = start().await?;
    namespace(&client, "limited", json!({})).await?;
    let ranges = Api::<LimitRange>::namespaced(client.clone(), "limited");
    let range: LimitRange = from_json(
        json!({"metadata": {"name": "defaults"}, "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            "max": {"cpu": "1", "memory": "1Gi"}
        }]}}),
    )?;
    ranges.create(&PostParams::default(), &range).await?;
    let pods = Api::<Pod>::namespaced(client.clone(), "limited");
    let created = pods
        .create(&PostParams::default(), &pod("defaulted", "nginx"))
        .await?;
    let created = serde_json::to_value(&created)?;
    let resources = &created["spec"]["containers"][0]["resources"];
    assert_eq!(resources["requests"]["cpu"], "100m", "{resources}");
    assert_eq!(resources["requests"]["memory"], "128Mi", "{resources}");
    assert_eq!(resources["limits"]["cpu"], "500m", "{resources}");
    assert_eq!(resources["limits"]["memory"], "256Mi", "{resources}");

    let greedy: Pod = from_json(
        json!({"metadata": {"name": "greedy"}, "spec": {"containers": [{
        "name": "app", "image": "nginx", "resources": {"limits": {"cpu": "2"}}}]}}),
    )?;
    let status = refused(pods.create(&PostParams::default(), &greedy).await)?;
    assert_eq!(status.code, 403, "{}", status.message);
    assert!(
        status
            .message
            .contains("maximum cpu usage per Container is 1, but limit is 2"),
        "{}",
        status.message
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_security_enforces_the_namespace_level_and_warns() -> Result<()> {
    let (_dir, server, client) = start().await?;
    namespace(
        &client,
        "secure",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    )
    .await?;
    let pods = Api::<Pod>::namespaced(client.clone(), "secure");
    let privileged: Pod = from_json(
        json!({"metadata": {"name": "root"}, "spec": {"containers": [{
        "name": "app", "image": "nginx", "securityContext": {"privileged": true}}]}}),
    )?;
    let status = refused(pods.create(&PostParams::default(), &privileged).await)?;
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert!(
        status
            .message
            .contains("violates PodSecurity \"restricted:latest\"")
            && status.message.contains("privileged"),
        "{}",
        status.message
    );
    let restricted: Pod = from_json(json!({"metadata": {"name": "tight"}, "spec": {
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "nginx", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}}))?;
    pods.create(&PostParams::default(), &restricted).await?;

    // Baseline allows what restricted refuses; a warn label says so in a Warning header,
    // which kubectl prints.
    namespace(
        &client,
        "relaxed",
        json!({"pod-security.kubernetes.io/enforce": "baseline",
               "pod-security.kubernetes.io/warn": "restricted"}),
    )
    .await?;
    let manifest = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain", "namespace": "relaxed"},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
    .to_string();
    let out = server.kubectl(&["create", "-f", "-"], Some(&manifest))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Warning:")
            && stderr.contains("would violate PodSecurity \"restricted:latest\""),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_runs_the_chain_and_stores_nothing() -> Result<()> {
    let (_dir, server, client) = start().await?;
    namespace(&client, "counted", json!({})).await?;
    let quotas = Api::<ResourceQuota>::namespaced(client.clone(), "counted");
    let quota: ResourceQuota =
        from_json(json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}}))?;
    quotas.create(&PostParams::default(), &quota).await?;
    let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dry"},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
    .to_string();
    let path = "/api/v1/namespaces/counted/pods?dryRun=All";
    let (code, _, answer) = http_full(server.port, "POST", path, &[], body.as_bytes())?;
    assert_eq!(code, 201, "{answer}");
    let pods = Api::<Pod>::namespaced(client.clone(), "counted");
    assert!(
        pods.get_opt("dry").await?.is_none(),
        "a dry run stored the pod"
    );
    let invalid = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dry"},
        "spec": {"containers": [{"name": "app"}]}})
    .to_string();
    let (code, _, answer) = http_full(server.port, "POST", path, &[], invalid.as_bytes())?;
    assert_eq!(code, 422, "the dry run ran the chain: {answer}");
    // The quota was not charged by the dry run: the one real pod still fits.
    pods.create(&PostParams::default(), &pod("real", "nginx"))
        .await?;
    over_quota(
        pods.create(&PostParams::default(), &pod("second", "nginx"))
            .await,
        "q",
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_admits_exactly_its_limit_when_fifty_clients_race() -> Result<()> {
    let (_dir, _server, client) = start().await?;
    namespace(&client, "race", json!({})).await?;
    let quotas = Api::<ResourceQuota>::namespaced(client.clone(), "race");
    let quota: ResourceQuota = from_json(json!({"metadata": {"name": "pods"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "10"}}}))?;
    quotas.create(&PostParams::default(), &quota).await?;
    // One pod first, so the race is for the last 9 slots of a quota already in use.
    let pods = Api::<Pod>::namespaced(client.clone(), "race");
    let with_request = |name: String| -> Result<Pod> {
        from_json(json!({"metadata": {"name": name}, "spec": {"containers": [{
            "name": "app", "image": "nginx", "resources": {"requests": {"cpu": "100m"}}}]}}))
    };
    pods.create(&PostParams::default(), &with_request("first".into())?)
        .await?;
    let mut racers = Vec::new();
    for i in 0..50 {
        let pods = pods.clone();
        let pod = with_request(format!("racer-{i}"))?;
        racers.push(tokio::spawn(async move {
            pods.create(&PostParams::default(), &pod).await
        }));
    }
    let (mut admitted, mut denied) = (0, 0);
    for racer in racers {
        match racer.await? {
            Ok(_) => admitted += 1,
            Err(kube::Error::Api(status)) if status.code == 403 => {
                assert!(
                    status.message.contains("exceeded quota: pods"),
                    "{}",
                    status.message
                );
                denied += 1;
            }
            Err(other) => bail!("a racer failed for another reason: {other}"),
        }
    }
    assert_eq!(
        (admitted, denied),
        (9, 41),
        "exactly the free slots are admitted"
    );
    let stored = pods.list(&Default::default()).await?.items.len();
    assert_eq!(stored, 10);
    let quota = serde_json::to_value(quotas.get("pods").await?)?;
    assert_eq!(quota["status"]["used"]["pods"], "10", "{quota}");
    assert_eq!(quota["status"]["used"]["requests.cpu"], "1", "{quota}");

    // Deleting a pod releases its slot.
    pods.delete("first", &DeleteParams::default()).await?;
    pods.create(&PostParams::default(), &with_request("after".into())?)
        .await?;
    Ok(())
}

/// Scoped quotas and charged updates, as Kubernetes' ResourceQuota documents them: a
/// `BestEffort` quota counts only pods without requests or limits, a `NotBestEffort` one
/// the others, each recounted and charged apart; a Service changed to `LoadBalancer` takes
/// a `services.loadbalancers` slot and is refused when none is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_quotas_count_their_pods_and_updates_are_charged() -> Result<()> {
    let (_dir, _server, client) = start().await?;
    namespace(&client, "scoped", json!({})).await?;
    let quotas = Api::<ResourceQuota>::namespaced(client.clone(), "scoped");
    for (name, scope) in [
        ("best-effort", "BestEffort"),
        ("burstable", "NotBestEffort"),
    ] {
        let quota: ResourceQuota = from_json(json!({"metadata": {"name": name},
            "spec": {"hard": {"pods": "1"}, "scopes": [scope]}}))?;
        quotas.create(&PostParams::default(), &quota).await?;
    }
    let pods = Api::<Pod>::namespaced(client.clone(), "scoped");
    let with_cpu = |name: &str| -> Result<Pod> {
        from_json(json!({"metadata": {"name": name}, "spec": {"containers": [{
            "name": "app", "image": "nginx", "resources": {"requests": {"cpu": "100m"}}}]}}))
    };
    pods.create(&PostParams::default(), &pod("plain-1", "nginx"))
        .await?;
    over_quota(
        pods.create(&PostParams::default(), &pod("plain-2", "nginx"))
            .await,
        "best-effort",
    )?;
    // The NotBestEffort quota still has its slot: the best-effort pod was not counted there.
    pods.create(&PostParams::default(), &with_cpu("cpu-1")?)
        .await?;
    over_quota(
        pods.create(&PostParams::default(), &with_cpu("cpu-2")?)
            .await,
        "burstable",
    )?;
    for name in ["best-effort", "burstable"] {
        let quota = serde_json::to_value(quotas.get(name).await?)?;
        assert_eq!(quota["status"]["used"]["pods"], "1", "{quota}");
    }

    let lb: ResourceQuota = from_json(json!({"metadata": {"name": "lb"},
        "spec": {"hard": {"services.loadbalancers": "1"}}}))?;
    quotas.create(&PostParams::default(), &lb).await?;
    let services = Api::<Service>::namespaced(client.clone(), "scoped");
    for name in ["front", "back"] {
        let service: Service = from_json(json!({"metadata": {"name": name},
            "spec": {"ports": [{"port": 80}]}}))?;
        services.create(&PostParams::default(), &service).await?;
    }
    let to_lb = Patch::Merge(json!({"spec": {"type": "LoadBalancer"}}));
    services
        .patch("front", &PatchParams::default(), &to_lb)
        .await?;
    let quota = serde_json::to_value(quotas.get("lb").await?)?;
    assert_eq!(
        quota["status"]["used"]["services.loadbalancers"], "1",
        "{quota}"
    );
    over_quota(
        services
            .patch("back", &PatchParams::default(), &to_lb)
            .await,
        "lb",
    )?;
    let back = serde_json::to_value(services.get("back").await?)?;
    assert_ne!(
        back["spec"]["type"], "LoadBalancer",
        "nothing stored: {back}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_swapped_live_from_warn_to_enforce_fails_no_other_request() -> Result<()> {
    let (_dir, server, client) = start().await?;
    let plugins = plugins_api(&client);
    let warn = json!({"spec": {"validationActions": ["Warn"],
        "config": {"allowedPrefixes": ["docker.io/library/"]}}});
    plugins
        .patch(
            "image-policy",
            &PatchParams::default(),
            &Patch::Merge(&warn),
        )
        .await?;
    // Wait until the warn version serves: a foreign image is allowed with a warning.
    let body = |name: &str, image: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": image}]}})
        .to_string()
    };
    let path = "/api/v1/namespaces/default/pods";
    let mut warned = false;
    for i in 0..100 {
        let name = format!("probe-{i}");
        let (code, headers, answer) = http_full(
            server.port,
            "POST",
            path,
            &[],
            body(&name, "quay.io/x/y").as_bytes(),
        )?;
        assert_eq!(code, 201, "{answer}");
        if headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("warning") && v.contains("would deny the request"))
        {
            warned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        warned,
        "the warn-only policy never answered with a Warning header"
    );

    // Clients create pods, good and bad, while the policy is swapped to enforce.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..4 {
        let stop = stop.clone();
        let port = server.port;
        clients.push(tokio::task::spawn_blocking(
            move || -> Result<(u32, u32, u32)> {
                let (mut good, mut bad_allowed, mut bad_denied) = (0, 0, 0);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let good_body = body(&format!("good-{c}-{i}"), "docker.io/library/nginx");
                    let (code, _, answer) =
                        http_full(port, "POST", path, &[], good_body.as_bytes())?;
                    if code != 201 {
                        bail!("a compliant create failed during the swap: {code} {answer}");
                    }
                    good += 1;
                    let bad_body = body(&format!("bad-{c}-{i}"), "quay.io/x/y");
                    let (code, _, answer) =
                        http_full(port, "POST", path, &[], bad_body.as_bytes())?;
                    match code {
                        201 if bad_denied == 0 => bad_allowed += 1,
                        201 => bail!("a foreign image was allowed again after a denial"),
                        403 if answer.contains("admission plugin \\\"image-policy\\\"") => {
                            bad_denied += 1
                        }
                        _ => bail!(
                            "a foreign-image create failed for another reason: {code} {answer}"
                        ),
                    }
                }
                Ok((good, bad_allowed, bad_denied))
            },
        ));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let enforce = json!({"spec": {"validationActions": ["Deny"]}});
    plugins
        .patch(
            "image-policy",
            &PatchParams::default(),
            &Patch::Merge(&enforce),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut good, mut denied) = (0, 0);
    for client in clients {
        let (g, _, d) = client.await??;
        good += g;
        denied += d;
    }
    assert!(
        good > 0 && denied > 0,
        "good {good}, denied after the swap {denied}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_plugin_is_handled_by_its_failure_policy_with_a_typed_reason() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let seed = format!("hostile=admission:{}", artifacts::HOSTILE);
    let server = Server::start(&dir.path().join("data"), &["--plugin", &seed])?;
    let client = server.client()?;
    let plugins = plugins_api(&client);
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    // The hostile plugin spins forever on a pod named "loop": under failurePolicy Fail
    // (the default), with no fuel budget (the default), its deadline stops it. The answer
    // is a 500 with its reason, as Kubernetes answers a webhook that timed out: a 504 would
    // have kube-rs send the create again and again, with back-off, for minutes.
    let status = refused(
        pods.create(&PostParams::default(), &pod("loop", "nginx"))
            .await,
    )?;
    assert_eq!(
        (status.code, status.reason.as_str()),
        (500, "PluginTimeout"),
        "{}",
        status.message
    );
    assert!(
        status.message.contains("admission plugin \"hostile\""),
        "{}",
        status.message
    );
    // With a fuel budget, the budget stops it first: a 500 with its own reason.
    let metered = json!([{"op": "add", "path": "/spec/limits", "value": {"fuel": 50_000_000}}]);
    let (code, _, answer) = http_full(
        server.port,
        "PATCH",
        "/apis/keel.dev/v1alpha1/plugins/hostile",
        &[("Content-Type", "application/json-patch+json")],
        metered.to_string().as_bytes(),
    )?;
    assert_eq!(code, 200, "{answer}");
    let loop_pod = serde_json::to_vec(&pod("loop", "nginx"))?;
    let mut exhausted = None;
    for _ in 0..100 {
        let (code, _, answer) = http_full(
            server.port,
            "POST",
            "/api/v1/namespaces/default/pods",
            &[],
            &loop_pod,
        )?;
        let status: Value = serde_json::from_str(&answer)?;
        if status["reason"] == "PluginFuelExhausted" {
            exhausted = Some((code, status));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some((code, status)) = exhausted else {
        bail!("the metered plugin never ran out of fuel")
    };
    assert_eq!(code, 500, "{status}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("admission plugin \"hostile\"")),
        "{status}"
    );
    // A panic is a 500 with its own reason.
    let status = refused(
        pods.create(&PostParams::default(), &pod("panic", "nginx"))
            .await,
    )?;
    assert_eq!(
        (status.code, status.reason.as_str()),
        (500, "PluginTrap"),
        "{}",
        status.message
    );

    // Under Ignore the write goes on.
    let ignore = json!({"spec": {"failurePolicy": "Ignore"}});
    plugins
        .patch("hostile", &PatchParams::default(), &Patch::Merge(&ignore))
        .await?;
    for _ in 0..100 {
        match pods
            .create(&PostParams::default(), &pod("panic", "nginx"))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.reason == "PluginTrap" => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(other) => bail!("unexpected: {other}"),
        }
    }
    bail!("failurePolicy Ignore never let the write through")
}
