//! Plugins as objects, in one process: a server whose catalog follows `Plugin` objects.
//! Updating a Plugin through the API 100 times (module and configuration) while callers
//! call it without pause: every call is answered, by the old or the new version.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keel::catalog::{Catalog, install};
use keel::cluster::{InProcess, ServerConfig};
use keel::object::patch::PatchType;
use keel::plugin::EmptyView;
use keel::registry::{Objects, Part, WriteOptions};
use keel_plugin_artifacts as artifacts;
use serde_json::{Value, json};

use super::{bytes, request};

const UPDATES: usize = 100;

async fn push(objects: &Objects, module: &[u8]) -> String {
    install::store_module(objects, module)
        .await
        .unwrap_or_else(|e| panic!("push: {e}"))
}

/// Waits until the catalog serves plugin `name` with `module` and configuration tag `tag`.
async fn serving(catalog: &Catalog, name: &str, module: &str, tag: &str) {
    let wanted =
        |p: &keel::plugin::Plugin| p.digest() == module && p.spec().config["tag"] == json!(tag);
    let served = catalog
        .wait_for(name, wanted, Duration::from_secs(60))
        .await;
    assert!(served, "plugin {name} never served {module} with tag {tag}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_updates_through_the_api_swap_live_with_no_failed_call() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = ServerConfig::new(dir.path().to_path_buf(), ([127, 0, 0, 1], 0).into());
    let server = InProcess::start(config)
        .await
        .unwrap_or_else(|e| panic!("server: {e}"));
    let (objects, catalog) = (
        server.running.objects.clone(),
        server.running.catalog.clone(),
    );
    let plugins = objects
        .kinds()
        .by_path("keel.dev", "v1alpha1", "plugins")
        .unwrap_or_else(|| panic!("plugins"));

    let modules = [
        ("echo", push(&objects, &bytes(artifacts::ECHO)).await),
        ("hostile", push(&objects, &bytes(artifacts::HOSTILE)).await),
    ];
    let plugin = json!({"apiVersion": "keel.dev/v1alpha1", "kind": "Plugin", "metadata": {"name": "swapped"},
                        "spec": {"type": "Admission", "module": modules[0].1, "config": {"tag": "0"}}});
    objects
        .create(plugins, None, plugin, WriteOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    serving(&catalog, "swapped", &modules[0].1, "0").await;

    let done = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (catalog, done) = (catalog.clone(), done.clone());
            tokio::task::spawn_blocking(move || {
                let mut answered = 0u64;
                while !done.load(Ordering::Acquire) {
                    let plugin = catalog
                        .current("swapped")
                        .unwrap_or_else(|| panic!("the plugin vanished during updates"));
                    let warnings = plugin
                        .validate(EmptyView::shared(), &request("Pod", "p", None))
                        .unwrap_or_else(|e| panic!("a call failed during updates: {e}"))
                        .warnings;
                    assert_eq!(warnings.len(), 1, "{warnings:?}");
                    answered += 1;
                }
                answered
            })
        })
        .collect();

    for i in 1..=UPDATES {
        let (prefix, module) = &modules[i % 2];
        let patch = json!({"spec": {"module": module, "config": {"tag": i.to_string()}}});
        objects
            .patch(
                plugins,
                None,
                "swapped",
                PatchType::Merge,
                &patch,
                Part::Main,
                WriteOptions::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        serving(&catalog, "swapped", module, &i.to_string()).await;
        let current = catalog.current("swapped").unwrap_or_else(|| panic!("gone"));
        let answer = tokio::task::spawn_blocking(move || {
            current
                .validate(EmptyView::shared(), &request("Pod", "p", None))
                .map(|v| v.warnings)
        })
        .await;
        assert_eq!(
            answer.ok().and_then(Result::ok),
            Some(vec![format!("{prefix}:{i}")])
        );
    }
    done.store(true, Ordering::Release);
    for caller in callers {
        let answered = caller.await.unwrap_or_else(|e| panic!("caller: {e}"));
        assert!(answered > 0);
    }

    // The status says what serves, and the history holds the last ten revisions.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let object = objects
            .get(plugins, None, "swapped")
            .unwrap_or_else(|e| panic!("{e}"));
        let generation = object.pointer("/metadata/generation").cloned();
        let ready = object.pointer("/status/conditions/0/status") == Some(&json!("True"));
        if ready && object.pointer("/status/observedGeneration").cloned() == generation {
            assert_eq!(
                object
                    .pointer("/status/hosts/0/module")
                    .and_then(Value::as_str),
                Some(modules[UPDATES % 2].1.as_str())
            );
            let history = object
                .pointer("/status/history")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            assert_eq!(history.len(), keel::catalog::status::HISTORY_LIMIT);
            assert_eq!(
                history.last().and_then(|e| e.pointer("/spec/config/tag")),
                Some(&json!(UPDATES.to_string()))
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never caught up: {:?}",
            object.get("status")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await.unwrap_or_else(|e| panic!("stop: {e}"));
}
