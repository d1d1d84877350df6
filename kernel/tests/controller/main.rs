//! The controller host in one process, with the root-CA publisher component: a controller
//! whose Plugin does not grant the kind it writes has every such write refused (and
//! counted), and granting it live restarts the controller, which then reconciles every
//! key again; a key whose write races is retried until it lands.

use std::time::{Duration, Instant};

use keel::catalog::install::PluginSeed;
use keel::cluster::{InProcess, ServerConfig};
use keel::object::patch::PatchType;
use keel::plugin::PluginType;
use keel::registry::{Objects, Part, WriteOptions};
use keel_plugin_artifacts as artifacts;
use serde_json::{Value, json};

async fn server(spec: Value) -> (tempfile::TempDir, InProcess) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut config = ServerConfig::new(
        dir.path().join("data"),
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
    );
    config.plugins = vec![PluginSeed {
        name: "root-ca".into(),
        plugin_type: PluginType::Controller,
        path: artifacts::ROOT_CA_PUBLISHER.into(),
        weight: None,
        spec: Some(spec),
    }];
    let server = InProcess::start(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (dir, server)
}

fn spec(writes: Value) -> Value {
    json!({
        "config": {"caCert": "CERT"},
        "controller": {
            "reconciles": [{"kind": "Namespace"}],
            "reads": [{"kind": "ConfigMap"}],
            "writes": writes,
        },
    })
}

fn published(objects: &Objects, namespace: &str) -> Option<Value> {
    let configmaps = objects.kinds().by_path("", "v1", "configmaps")?;
    objects
        .get(configmaps, Some(namespace), "kube-root-ca.crt")
        .ok()
}

async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_plugin_is_not_granted_are_refused_until_granted_live() {
    let (_dir, server) = server(spec(json!([]))).await;
    let running = server.running.clone();
    let objects = running.objects.clone();
    let refused = until("refused writes", || {
        running
            .controllers()
            .and_then(|c| c.stats("root-ca"))
            .filter(|s| s.refused >= 4)
    })
    .await;
    assert_eq!(refused.actions, 0, "nothing was written: {refused:?}");
    for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert_eq!(published(&objects, namespace), None, "{namespace}");
    }

    // Grant ConfigMaps: the controller restarts and reconciles every namespace again.
    let plugins = objects
        .kinds()
        .by_path("keel.dev", "v1alpha1", "plugins")
        .unwrap_or_else(|| panic!("plugins served"));
    // A merge patch, not a read-modify-write: the catalog writes the Plugin's status
    // meanwhile, and a whole-object update would race it (409).
    objects
        .patch(
            plugins,
            None,
            "root-ca",
            PatchType::Merge,
            &json!({"spec": {"controller": {"writes": [{"kind": "ConfigMap"}]}}}),
            Part::Main,
            WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let cm = until(namespace, || published(&objects, namespace)).await;
        assert_eq!(cm.pointer("/data/ca.crt"), Some(&json!("CERT")));
    }

    // A new namespace is a new key.
    let namespaces = objects
        .kinds()
        .by_path("", "v1", "namespaces")
        .unwrap_or_else(|| panic!("namespaces served"));
    objects
        .create(
            namespaces,
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
            WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    until("team-a", || published(&objects, "team-a")).await;

    // Someone changes the ConfigMap: the controller puts it back (the ConfigMap is only
    // read, not owned, so it is the namespace's next reconcile that does: touch it).
    let configmaps = objects
        .kinds()
        .by_path("", "v1", "configmaps")
        .unwrap_or_else(|| panic!("configmaps served"));
    let mut cm = published(&objects, "team-a").unwrap_or_default();
    cm["data"]["ca.crt"] = json!("TAMPERED");
    objects
        .update(
            configmaps,
            Some("team-a"),
            "kube-root-ca.crt",
            cm,
            Part::Main,
            WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ns = objects
        .get(namespaces, None, "team-a")
        .unwrap_or_else(|e| panic!("{e}"));
    ns["metadata"]["labels"] = json!({"touched": "yes"});
    objects
        .update(
            namespaces,
            None,
            "team-a",
            ns,
            Part::Main,
            WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    until("the CA restored", || {
        published(&objects, "team-a")
            .filter(|cm| cm.pointer("/data/ca.crt") == Some(&json!("CERT")))
    })
    .await;
    server.stop().await.unwrap_or_else(|e| panic!("{e}"));
}
