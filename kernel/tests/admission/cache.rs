//! `ObjectCache`: a copy of some kinds kept by watchers, which says which store revision it
//! reflects and can be waited on; what plugins read through `cache`.

use std::time::Duration;

use keel::client::cache::ObjectCache;
use keel::object::selector::LabelSelector;
use keel::plugin::CacheView;
use keel::plugin::calls::ObjectRef;
use keel::registry::{DeleteOptions, WriteOptions};
use serde_json::json;

use super::server;

async fn wait(cache: &ObjectCache, revision: u64) {
    cache
        .wait_for(revision, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_follows_writes_and_can_be_waited_on() {
    let (_dir, server) = server().await;
    let objects = server.running.objects.clone();
    let kinds = objects.kinds();
    let (Some(configmaps), Some(namespaces)) = (
        kinds.by_path("", "v1", "configmaps"),
        kinds.by_path("", "v1", "namespaces"),
    ) else {
        panic!("kinds")
    };
    let cache = ObjectCache::start(&objects, vec![configmaps, namespaces]);
    wait(&cache, objects.store().revision()).await;
    assert!(
        cache.get(namespaces, "", "default").is_some(),
        "listed at start"
    );

    for (name, tier) in [("a", "web"), ("b", "db"), ("c", "web")] {
        let cm = json!({"metadata": {"name": name, "labels": {"tier": tier}}, "data": {"k": name}});
        objects
            .create(configmaps, Some("default"), cm, WriteOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    wait(&cache, objects.store().revision()).await;
    assert!(cache.revision() >= objects.store().revision());
    let web = LabelSelector::parse("tier=web").unwrap_or_default();
    assert_eq!(cache.list(configmaps, Some("default"), &web).len(), 2);
    assert_eq!(cache.list(configmaps, Some("other"), &web).len(), 0);

    // The contract's view: by group and kind, JSON text, selectors in string form.
    let view: &dyn CacheView = &*cache;
    let got = view.get(&ObjectRef {
        group: String::new(),
        kind: "ConfigMap".into(),
        namespace: "default".into(),
        name: "b".into(),
    });
    assert!(got.is_some_and(|text| text.contains("\"db\"")));
    assert_eq!(view.list("", "ConfigMap", "", "tier in (web,db)").len(), 3);
    assert!(
        view.list("", "Secret", "", "").is_empty(),
        "a kind not cached"
    );
    assert!(view.list("", "ConfigMap", "", "((bad").is_empty());

    objects
        .delete(configmaps, Some("default"), "a", &DeleteOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait(&cache, objects.store().revision()).await;
    assert!(cache.get(configmaps, "default", "a").is_none());
    assert_eq!(cache.list(configmaps, None, &web).len(), 1);

    // A revision not yet written is not reached.
    let future = objects.store().revision() + 1000;
    let behind = cache.wait_for(future, Duration::from_millis(50)).await;
    assert!(behind.is_err_and(|b| b.wanted == future));
}
