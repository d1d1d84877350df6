//! The API through kube-rs (a client no one here wrote): the verbs, optimistic
//! concurrency, subresources, selectors, paging, watch resume and 410, and
//! bad input answered with the right `Status`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use keel_tests::{Server, http};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn api_error(e: kube::Error) -> Result<kube::core::Status> {
    match e {
        kube::Error::Api(s) => Ok(*s),
        other => bail!("expected an API error, got {other}"),
    }
}

async fn start(extra: &[&str]) -> Result<(tempfile::TempDir, Server, kube::Client)> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&dir.path().join("data"), extra)?;
    let client = server.client()?;
    Ok((dir, server, client))
}

#[tokio::test]
async fn crud_and_conflicts() -> Result<()> {
    let (_dir, _server, client) = start(&[]).await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let created = cms
        .create(&PostParams::default(), &cm("app", &[("a", "1")]))
        .await?;
    let rv1 = created
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    assert!(
        rv1.parse::<u64>().is_ok(),
        "resourceVersion is a revision: {rv1}"
    );
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());

    // A second create of the same name: 409 AlreadyExists.
    let err = api_error(
        cms.create(&PostParams::default(), &cm("app", &[]))
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("duplicate create succeeded"))?,
    )?;
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));

    // Update with the current resourceVersion succeeds and moves it forward.
    let mut next = created.clone();
    next.data = Some(BTreeMap::from([("a".into(), "2".into())]));
    let updated = cms.replace("app", &PostParams::default(), &next).await?;
    let rv2 = updated
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    assert!(rv2.parse::<u64>()? > rv1.parse::<u64>()?);

    // Update with the stale one: 409 Conflict, and the stored object is unchanged.
    let err = api_error(
        cms.replace("app", &PostParams::default(), &next)
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("stale update succeeded"))?,
    )?;
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(cms.get("app").await?.data, updated.data);

    // The three patch types.
    let p = cms
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "3"}})),
        )
        .await?;
    assert_eq!(
        p.data.as_ref().and_then(|d| d.get("b")).map(String::as_str),
        Some("3")
    );
    let p = cms
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::<()>::Json(serde_json::from_value(
                json!([{"op": "remove", "path": "/data/a"}]),
            )?),
        )
        .await?;
    assert!(p.data.as_ref().is_some_and(|d| !d.contains_key("a")));
    let p = cms
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"tier": "web"}}})),
        )
        .await?;
    assert_eq!(
        p.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("tier"))
            .map(String::as_str),
        Some("web")
    );

    // Delete, then 404 on get and on a second delete.
    cms.delete("app", &DeleteParams::default()).await?;
    let err = api_error(
        cms.get("app")
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("deleted object still readable"))?,
    )?;
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    let err = api_error(
        cms.delete("app", &DeleteParams::default())
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("double delete succeeded"))?,
    )?;
    assert_eq!(err.code, 404);

    // The system namespaces exist; cluster-scoped kinds work.
    let nss: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = nss
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for want in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    Ok(())
}

#[tokio::test]
async fn selectors_paging_and_generate_name() -> Result<()> {
    let (_dir, _server, client) = start(&[]).await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..25 {
        let mut c = cm(&format!("c{i:02}"), &[]);
        c.metadata.labels = Some(BTreeMap::from([(
            "parity".into(),
            if i % 2 == 0 { "even" } else { "odd" }.into(),
        )]));
        cms.create(&PostParams::default(), &c).await?;
    }
    let even = cms
        .list(&ListParams::default().labels("parity=even"))
        .await?;
    assert_eq!(even.items.len(), 13);
    let notodd = cms
        .list(&ListParams::default().labels("parity notin (odd)"))
        .await?;
    assert_eq!(notodd.items.len(), 13);
    let one = cms
        .list(&ListParams::default().fields("metadata.name=c07"))
        .await?;
    assert_eq!(one.items.len(), 1);

    // Paging: pages of 10 cover every object once, in order.
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(10);
    loop {
        let page = cms.list(&params).await?;
        assert!(page.items.len() <= 10);
        seen.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    let want: Vec<String> = (0..25).map(|i| format!("c{i:02}")).collect();
    assert_eq!(seen, want);

    // A bad continue token is a 400, not a crash.
    let err = api_error(
        cms.list(&ListParams::default().continue_token("garbage"))
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("bad token accepted"))?,
    )?;
    assert_eq!(err.code, 400);

    // generateName; deletecollection by label.
    let mut g = cm("", &[]);
    g.metadata.name = None;
    g.metadata.generate_name = Some("gen-".into());
    let made = cms.create(&PostParams::default(), &g).await?;
    assert!(
        made.metadata
            .name
            .is_some_and(|n| n.starts_with("gen-") && n.len() == 9)
    );
    cms.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("parity=odd"),
    )
    .await?;
    let left = cms.list(&ListParams::default()).await?;
    assert_eq!(left.items.len(), 14, "13 even + the generated one");
    Ok(())
}

#[tokio::test]
async fn status_scale_and_finalizers() -> Result<()> {
    let (_dir, _server, client) = start(&[]).await?;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
        "status": {"replicas": 99}
    }))?;
    let created = deploys.create(&PostParams::default(), &d).await?;
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.status.is_none(), "status is not taken on create");

    // Status writes change status only, and not generation.
    let s = deploys
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 2}, "spec": {"replicas": 7}})),
        )
        .await?;
    assert_eq!(s.status.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(s.spec.replicas, Some(2));
    assert_eq!(s.metadata.generation, Some(1));

    // Spec writes bump generation and keep status.
    let s = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"replicas": 0}})),
        )
        .await?;
    assert_eq!(s.metadata.generation, Some(2));
    assert_eq!(s.status.as_ref().and_then(|s| s.replicas), Some(2));

    // The scale subresource.
    let scale = deploys.get_scale("web").await?;
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(
        scale.status.as_ref().and_then(|s| s.selector.clone()),
        Some("app=web".into())
    );
    deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await?;
    assert_eq!(deploys.get("web").await?.spec.replicas, Some(5));

    // Finalizers hold a delete until they are removed.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut f = cm("held", &[]);
    f.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &f).await?;
    cms.delete("held", &DeleteParams::default()).await?;
    let marked = cms.get("held").await?;
    assert!(
        marked.metadata.deletion_timestamp.is_some(),
        "still there, marked"
    );
    let err = api_error(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/hold", "x/new"]}})),
        )
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("finalizer added during deletion"))?,
    )?;
    assert_eq!(err.code, 422);
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    assert_eq!(
        api_error(
            cms.get("held")
                .await
                .err()
                .ok_or_else(|| anyhow::anyhow!("not deleted"))?
        )?
        .code,
        404
    );

    // Binding assigns a pod once.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    )?;
    pods.create(&PostParams::default(), &pod).await?;
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}});
    let port = client_port(&_server);
    let path = "/api/v1/namespaces/default/pods/p/binding";
    let (code, _) = http(
        port,
        "POST",
        path,
        "application/json",
        binding.to_string().as_bytes(),
    )?;
    assert_eq!(code, 201);
    let bound = pods.get("p").await?;
    assert_eq!(bound.spec.and_then(|s| s.node_name), Some("n1".into()));
    let (code, body) = http(
        port,
        "POST",
        path,
        "application/json",
        binding.to_string().as_bytes(),
    )?;
    assert_eq!(code, 409, "{body}");
    Ok(())
}

fn client_port(server: &Server) -> u16 {
    server.port
}

#[tokio::test]
async fn watch_resumes_and_expires() -> Result<()> {
    // A tiny history so that an old resourceVersion falls out of it.
    let (_dir, server, client) = start(&["--watch-history", "5"]).await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let first = cms.create(&PostParams::default(), &cm("w0", &[])).await?;
    let rv0 = first.metadata.resource_version.clone().unwrap_or_default();

    // Resume from rv0: see exactly what came after, in order.
    let mut stream = cms
        .watch(&WatchParams::default().timeout(20), &rv0)
        .await?
        .boxed();
    cms.create(&PostParams::default(), &cm("w1", &[])).await?;
    cms.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await?;
    cms.delete("w0", &DeleteParams::default()).await?;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await??;
        match ev {
            Some(WatchEvent::Added(c)) => {
                seen.push(format!("ADDED {}", c.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Modified(c)) => {
                seen.push(format!("MODIFIED {}", c.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Deleted(c)) => {
                seen.push(format!("DELETED {}", c.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Bookmark(_)) => {}
            Some(WatchEvent::Error(e)) => bail!("watch error {e:?}"),
            None => bail!("watch ended early"),
        }
    }
    assert_eq!(seen, ["ADDED w1", "MODIFIED w1", "DELETED w0"]);
    drop(stream);

    // Push rv0 out of the 5-event history: resuming from it is 410 Expired.
    for i in 0..10 {
        cms.create(&PostParams::default(), &cm(&format!("x{i}"), &[]))
            .await?;
    }
    let mut stream = cms
        .watch(&WatchParams::default().timeout(5), &rv0)
        .await?
        .boxed();
    match tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await?? {
        Some(WatchEvent::Error(e)) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => bail!("expected a 410 ERROR event, got {other:?}"),
    }

    // kube-runtime's watcher relists after a 410 and keeps going.
    let stream = kube::runtime::watcher(cms.clone(), kube::runtime::watcher::Config::default());
    let mut stream = std::pin::pin!(kube::runtime::WatchStreamExt::applied_objects(stream));
    let mut got_initial = false;
    while let Some(obj) = tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await?? {
        if obj.metadata.name.as_deref() == Some("x9") {
            got_initial = true;
            break;
        }
    }
    assert!(got_initial, "watcher saw the current state");
    drop(server);
    Ok(())
}

#[tokio::test]
async fn bad_input_is_a_clear_status_and_stores_nothing() -> Result<()> {
    let (_dir, server, client) = start(&[]).await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let path = "/api/v1/namespaces/default/configmaps";
    let status = |body: &str| -> Result<serde_json::Value> { Ok(serde_json::from_str(body)?) };

    let (code, body) = http(server.port, "POST", path, "application/json", b"{not json")?;
    assert_eq!(code, 400, "{body}");
    assert_eq!(status(&body)?["kind"], "Status");

    let (code, body) = http(
        server.port,
        "POST",
        path,
        "application/json",
        br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}"#,
    )?;
    assert_eq!(code, 400, "{body}");

    let (code, body) = http(
        server.port,
        "POST",
        path,
        "application/json",
        br#"{"metadata":{"name":"Bad_Name"}}"#,
    )?;
    assert_eq!(code, 422, "{body}");
    assert_eq!(status(&body)?["reason"], "Invalid");

    let big = format!(
        r#"{{"metadata":{{"name":"big"}},"data":{{"x":"{}"}}}}"#,
        "a".repeat(4 * 1024 * 1024)
    );
    let (code, body) = http(
        server.port,
        "POST",
        path,
        "application/json",
        big.as_bytes(),
    )?;
    assert_eq!(code, 413, "{body}");

    let (code, body) = http(
        server.port,
        "GET",
        "/api/v1/namespaces/default/widgets",
        "application/json",
        b"",
    )?;
    assert_eq!(code, 404, "{body}");
    assert_eq!(status(&body)?["reason"], "NotFound");

    let (code, body) = http(
        server.port,
        "PATCH",
        &format!("{path}/none"),
        "text/plain",
        b"{}",
    )?;
    assert_eq!(code, 415, "{body}");

    // kubectl's typed `create` commands send protobuf: the answer says what works instead.
    let (code, body) = http(
        server.port,
        "POST",
        path,
        "application/vnd.kubernetes.protobuf",
        b"k8s\0\n\x0c\n\x02v1\x12\x06Secret",
    )?;
    assert_eq!(code, 415, "{body}");
    let message = status(&body)?["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("kubectl apply -f -"), "{message}");

    let (code, body) = http(
        server.port,
        "POST",
        &format!("{path}?dryRun=All"),
        "application/json",
        br#"{"metadata":{"name":"dry"}}"#,
    )?;
    assert_eq!(code, 201, "{body}");

    assert!(
        cms.list(&ListParams::default()).await?.items.is_empty(),
        "nothing was stored"
    );
    Ok(())
}

#[tokio::test]
async fn streaming_list_ends_initial_events_with_a_bookmark() -> Result<()> {
    let (_dir, _server, client) = start(&[]).await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        cms.create(&PostParams::default(), &cm(&format!("s{i}"), &[]))
            .await?;
    }
    // sendInitialEvents=true, allowWatchBookmarks=true, resourceVersionMatch=NotOlderThan.
    let mut stream = cms
        .watch(&WatchParams::streaming_lists().timeout(20), "")
        .await?
        .boxed();
    let mut added = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await?? {
            Some(WatchEvent::Added(c)) => added.push(c.metadata.name.unwrap_or_default()),
            Some(WatchEvent::Bookmark(b)) => {
                let end = b
                    .metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str);
                assert_eq!(
                    end,
                    Some("true"),
                    "the first bookmark closes the initial events"
                );
                assert!(!b.metadata.resource_version.is_empty());
                break;
            }
            other => bail!("unexpected event before the initial-events bookmark: {other:?}"),
        }
    }
    assert_eq!(added, ["s0", "s1", "s2"]);
    // And the stream goes on with later changes.
    cms.create(&PostParams::default(), &cm("later", &[]))
        .await?;
    match tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await?? {
        Some(WatchEvent::Added(c)) => assert_eq!(c.metadata.name.as_deref(), Some("later")),
        other => bail!("expected ADDED later, got {other:?}"),
    }
    Ok(())
}
