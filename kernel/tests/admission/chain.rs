//! The chain with the `echo` test plugin (which annotates what it mutates, warns
//! `echo:<tag>`, denies objects named `deny`, and fails on `fail`): mutation, rules, denial
//! as a Status naming the plugin, warn mode, namespace selectors, failure policy, and the
//! exemption of Plugin objects.

use std::time::Duration;

use keel::catalog::install;
use keel::object::ResourceType;
use keel::object::patch::PatchType;
use keel::registry::admission::Warnings;
use keel::registry::{ApiError, Objects, Part, WriteOptions};
use keel_plugin_artifacts as artifacts;
use serde_json::{Value, json};

use super::server;

fn kind(objects: &Objects, plural: &str) -> &'static ResourceType {
    let group = if plural == "plugins" { "keel.dev" } else { "" };
    let version = if plural == "plugins" {
        "v1alpha1"
    } else {
        "v1"
    };
    objects
        .kinds()
        .by_path(group, version, plural)
        .unwrap_or_else(|| panic!("{plural}"))
}

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

/// Creates `body` in `default`, answering the result and the warnings.
async fn create(
    objects: &Objects,
    plural: &str,
    body: Value,
) -> (Result<Value, ApiError>, Vec<String>) {
    let warnings = Warnings::default();
    let opts = WriteOptions {
        warnings: warnings.clone(),
        ..WriteOptions::default()
    };
    let result = objects
        .create(kind(objects, plural), Some("default"), body, opts)
        .await;
    (result, warnings.take())
}

/// Merges `spec` into the Plugin's and waits until a version with it serves.
async fn respec(
    server: &keel::cluster::InProcess,
    spec: Value,
    serving: impl Fn(&keel::plugin::Plugin) -> bool,
) {
    let objects = &server.running.objects;
    objects
        .patch(
            kind(objects, "plugins"),
            None,
            "echo",
            PatchType::Merge,
            &json!({"spec": spec}),
            Part::Main,
            WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let served = server
        .running
        .catalog
        .wait_for("echo", serving, Duration::from_secs(60))
        .await;
    assert!(served, "the new spec never served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_mutates_denies_warns_and_follows_its_rules() {
    let (_dir, server) = server().await;
    let objects = server.running.objects.clone();
    install_for_pods(&objects, "echo", artifacts::ECHO, json!({"tag": "a"})).await;
    let catalog = server.running.catalog.clone();
    assert!(
        catalog
            .wait_for("echo", |_| true, Duration::from_secs(60))
            .await
    );

    // Mutated (echo's JSON Patch) and warned.
    let (created, warnings) = create(&objects, "pods", pod("x")).await;
    let created = created.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        created.pointer("/metadata/annotations/echo"),
        Some(&json!("a"))
    );
    assert_eq!(warnings, vec!["echo:a".to_string()]);
    let stored = objects
        .get(kind(&objects, "pods"), Some("default"), "x")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stored.pointer("/metadata/annotations/echo"),
        Some(&json!("a")),
        "stored as mutated"
    );

    // Outside the rules: untouched.
    let (cm, warnings) = create(
        &objects,
        "configmaps",
        json!({"metadata": {"name": "deny"}}),
    )
    .await;
    assert!(cm.is_ok_and(|cm| cm.pointer("/metadata/annotations").is_none()));
    assert!(warnings.is_empty());

    // A denial is the plugin's Status.
    let (denied, _) = create(&objects, "pods", pod("deny")).await;
    match denied {
        Err(error @ ApiError::Admission { .. }) => {
            assert_eq!((error.code(), error.reason()), (403, "Forbidden"));
            assert_eq!(
                error.to_string(),
                "pods \"deny\" is forbidden: admission plugin \"echo\" denied the request: echo:a denies"
            );
        }
        other => panic!("{other:?}"),
    }
    // A plugin error under failurePolicy Fail: a typed reason.
    let (failed, _) = create(&objects, "pods", pod("fail")).await;
    assert!(
        matches!(&failed, Err(e @ ApiError::Admission { .. }) if e.code() == 500 && e.reason() == "PluginError"),
        "{failed:?}"
    );

    // Warn mode: allowed, with the denial as a warning, and counted.
    respec(&server, json!({"validationActions": ["Warn"]}), |p| {
        p.spec().warns_only()
    })
    .await;
    let (allowed, warnings) = create(&objects, "pods", pod("deny")).await;
    assert!(allowed.is_ok(), "{allowed:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w == "admission plugin \"echo\" would deny the request: echo:a denies"),
        "{warnings:?}"
    );
    let current = catalog.current("echo").unwrap_or_else(|| panic!("echo"));
    assert!(current.stats().snapshot().warned >= 1);

    // Ignore: the failing call is skipped.
    respec(&server, json!({"failurePolicy": "Ignore"}), |p| {
        p.spec().failure_policy == keel::plugin::FailurePolicy::Ignore
    })
    .await;
    let (ignored, _) = create(&objects, "pods", pod("fail")).await;
    assert!(ignored.is_ok(), "{ignored:?}");

    // A namespace selector no namespace matches: the plugin is not called.
    respec(
        &server,
        json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}),
        |p| p.spec().namespace_selector.is_some(),
    )
    .await;
    let (untouched, warnings) = create(&objects, "pods", pod("y")).await;
    assert!(untouched.is_ok_and(|p| p.pointer("/metadata/annotations").is_none()));
    assert!(warnings.is_empty(), "{warnings:?}");
    // ... until the namespace carries the label.
    objects
        .patch(
            kind(&objects, "namespaces"),
            None,
            "default",
            PatchType::Merge,
            &json!({"metadata": {"labels": {"team": "a"}}}),
            Part::Main,
            WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (touched, _) = create(&objects, "pods", pod("z")).await;
    assert!(touched.is_ok_and(|p| p.pointer("/metadata/annotations/echo").is_some()));

    // A plugin that acts only where its namespace holds a LimitRange is not called where
    // none is...
    respec(
        &server,
        json!({"namespaceSelector": null, "namespaceHolds": [{"kind": "LimitRange"}]}),
        |p| !p.spec().namespace_holds.is_empty() && p.spec().namespace_selector.is_none(),
    )
    .await;
    let (untouched, _) = create(&objects, "pods", pod("no-range")).await;
    assert!(untouched.is_ok_and(|p| p.pointer("/metadata/annotations").is_none()));
    // ... and is from the first write after one is created.
    let (range, _) = create(
        &objects,
        "limitranges",
        json!({"metadata": {"name": "range"}, "spec": {"limits": []}}),
    )
    .await;
    assert!(range.is_ok(), "{range:?}");
    let (touched, _) = create(&objects, "pods", pod("ranged")).await;
    assert!(touched.is_ok_and(|p| p.pointer("/metadata/annotations/echo").is_some()));

    // Plugin objects are never admitted, so no plugin can lock the catalog out.
    respec(
        &server,
        json!({"validationActions": null, "namespaceSelector": null, "namespaceHolds": null,
               "rules": [{"operations": ["*"], "apiGroups": ["*"], "resources": ["*"]}]}),
        |p| {
            p.spec()
                .rules
                .first()
                .is_some_and(|r| r.api_groups == ["*"])
        },
    )
    .await;
    let deny_plugin = json!({"apiVersion": "keel.dev/v1alpha1", "kind": "Plugin",
        "metadata": {"name": "deny"}, "spec": {"type": "Admission", "module": "sha256:".to_string() + &"0".repeat(64)}});
    let created = objects
        .create(
            kind(&objects, "plugins"),
            None,
            deny_plugin,
            WriteOptions::default(),
        )
        .await;
    assert!(created.is_ok(), "{created:?}");
}

/// Stores `path`'s module and creates an admission Plugin named `name`, configured with
/// `config`, for Pod creates.
async fn install_for_pods(objects: &Objects, name: &str, path: &str, config: Value) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let module = install::store_module(objects, &bytes)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let plugin = json!({"apiVersion": "keel.dev/v1alpha1", "kind": "Plugin", "metadata": {"name": name},
        "spec": {"type": "Admission", "module": module, "config": config,
                 "rules": [{"operations": ["CREATE"], "apiGroups": [""], "resources": ["pods"]}]}});
    objects
        .create(
            kind(objects, "plugins"),
            None,
            plugin,
            WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_is_called_only_for_the_steps_it_describes() {
    let (_dir, server) = server().await;
    let objects = server.running.objects.clone();
    install_for_pods(&objects, "echo", artifacts::ECHO, Value::Null).await;
    install_for_pods(
        &objects,
        "image-policy",
        artifacts::IMAGE_POLICY,
        Value::Null,
    )
    .await;
    let catalog = server.running.catalog.clone();
    for name in ["echo", "image-policy"] {
        assert!(
            catalog
                .wait_for(name, |_| true, Duration::from_secs(60))
                .await,
            "{name} never served"
        );
    }
    let steps = |name: &str| {
        let plugin = catalog
            .current(name)
            .unwrap_or_else(|| panic!("{name} is not in the catalog"));
        let steps = plugin.admission_steps();
        (steps.mutates, steps.validates)
    };
    // echo mutates (it annotates) and validates; the image policy only validates.
    assert_eq!(steps("echo"), (true, true));
    assert_eq!(steps("image-policy"), (false, true));

    let calls = |name: &str| {
        catalog
            .current(name)
            .map(|p| p.stats().snapshot().calls)
            .unwrap_or_default()
    };
    // Counted from here: loading asked each plugin to describe itself.
    let before = (calls("echo"), calls("image-policy"));
    for i in 0..3 {
        let (created, _) = create(&objects, "pods", pod(&format!("p{i}"))).await;
        let created = created.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            created.pointer("/metadata/annotations/echo"),
            Some(&json!("")),
            "echo's mutation is applied"
        );
    }
    assert_eq!(
        calls("echo") - before.0,
        6,
        "echo: mutate and validate, three writes"
    );
    assert_eq!(
        calls("image-policy") - before.1,
        3,
        "the image policy: validate only"
    );
}
