//! One controller at work: a cache of the kinds its spec names (watchers that relist when
//! the history has moved on), the changes mapped to keys in a [`WorkQueue`], and a loop that
//! reconciles one key at a time through the plugin serving now and applies its answer.
//!
//! Before a key is reconciled, every kind of the cache is brought up to the revision of the
//! last write the controller made and of the newest object the cache holds, so every
//! reconcile sees the controller's own earlier writes (kube-controller-manager needs
//! "expectations" for this; a revision-ordered cache does not) and a consistent cut of
//! the kinds (an owner is never missing only because its watcher lags its dependent's).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::watch;

use super::apply::{ActionError, Applier};
use super::keys::{KeyMapper, Kinds};
use super::queue::{Key, WorkQueue};
use super::stats::ControllerStats;
use crate::catalog::Catalog;
use crate::client::cache::{ObjectCache, Observer};
use crate::plugin::calls::{Action, ObjectRef};
use crate::plugin::{CacheView, ControllerSpec};
use crate::registry::Objects;

/// How long a reconcile waits for the cache to reflect the controller's last write.
const CATCH_UP: Duration = Duration::from_secs(30);
/// Creates applied at once from one answer (a ReplicaSet scaling up).
const CONCURRENT_CREATES: usize = 32;

/// One controller's loop.
pub struct Runner {
    /// The Plugin's name.
    pub name: String,
    /// Its `spec.controller`.
    pub spec: ControllerSpec,
    /// The verbs it writes through.
    pub objects: Objects,
    /// Where the plugin's serving version is found for each call.
    pub catalog: Arc<Catalog>,
    /// Its counters.
    pub stats: Arc<ControllerStats>,
}

struct Working {
    queue: Arc<WorkQueue>,
    mapper: Arc<KeyMapper>,
    cache: Arc<ObjectCache>,
    applier: Applier,
    /// The store revision after the controller's last write.
    written: u64,
}

impl Runner {
    /// Runs until `stop` turns true (or its sender goes); the reconcile in progress
    /// finishes first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let (kinds, missing) = Kinds::resolve(&self.spec, self.objects.kinds());
        if !missing.is_empty() {
            tracing::warn!(
                controller = self.name,
                "spec.controller names kinds this server does not serve: {}",
                missing.join(", ")
            );
        }
        let queue = Arc::new(WorkQueue::new());
        let mapper = Arc::new(KeyMapper::new(&self.spec, kinds));
        let observer: Observer = {
            let (queue, mapper) = (queue.clone(), mapper.clone());
            Arc::new(move |kind, was, is| {
                for key in mapper.keys(kind, was, is) {
                    queue.add(key);
                }
            })
        };
        let cache = ObjectCache::start_observed(
            &self.objects,
            mapper.kinds().cached.clone(),
            Some(observer),
        );
        mapper.set_cache(Arc::downgrade(&cache));
        let mut working = Working {
            queue,
            mapper,
            cache,
            applier: Applier::new(self.objects.clone(), &self.name, self.spec.clone()),
            written: 0,
        };
        tracing::info!(controller = self.name, "controller started");
        loop {
            let key = tokio::select! {
                key = working.queue.next() => key,
                _ = stop.changed() => break,
            };
            self.reconcile(&mut working, &key).await;
            working.queue.done(&key);
            if *stop.borrow() {
                break;
            }
        }
        tracing::info!(controller = self.name, "controller stopped");
    }

    async fn reconcile(&self, working: &mut Working, key: &Key) {
        // Every kind as new as the newest thing the cache holds (an owner is never missing
        // only because its kind's watcher is behind its dependent's), and as new as the
        // controller's own last write.
        let target = working.written.max(working.cache.frontier());
        if let Err(behind) = working.cache.wait_for(target, CATCH_UP).await {
            tracing::warn!(controller = self.name, "{behind}; retrying {}", key.name);
            working.queue.add_rate_limited(key.clone());
            return;
        }
        let Some(plugin) = self.catalog.current(&self.name) else {
            return;
        };
        let Some(kind) = working
            .mapper
            .kinds()
            .reconciles
            .iter()
            .find(|k| k.group == key.group && k.kind == key.kind)
            .copied()
        else {
            return;
        };
        let object = working.cache.get(kind, &key.namespace, &key.name);
        let view: Arc<dyn CacheView> = working.cache.clone();
        let reference = ObjectRef {
            group: key.group.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        };
        let started = Instant::now();
        let answer = tokio::task::spawn_blocking(move || {
            plugin.reconcile(view, &reference, object.as_deref())
        })
        .await;
        let answer = match answer {
            Ok(Ok(answer)) => {
                self.stats.call(started.elapsed(), false);
                answer
            }
            Ok(Err(error)) => {
                self.stats.call(started.elapsed(), true);
                let delay = working.queue.add_rate_limited(key.clone());
                tracing::warn!(
                    controller = self.name,
                    key = key.name,
                    "{error}; retrying in {delay:?}"
                );
                return;
            }
            Err(join) => {
                self.stats.call(started.elapsed(), true);
                tracing::error!(controller = self.name, "reconcile task failed: {join}");
                working.queue.add_rate_limited(key.clone());
                return;
            }
        };
        let started = Instant::now();
        let outcome = apply_all(&working.applier, &answer.actions).await;
        if !answer.actions.is_empty() {
            working.written = self.objects.store().revision();
        }
        let (applied, races, refused) = match &outcome {
            Ok(applied) => (*applied, 0, 0),
            Err((applied, error)) if error.is_race() => (*applied, 1, 0),
            Err((applied, _)) => (*applied, 0, 1),
        };
        self.stats
            .writes(started.elapsed(), applied, races, refused);
        match outcome {
            Ok(_) => working.queue.forget(key),
            Err((_, error)) => {
                let delay = working.queue.add_rate_limited(key.clone());
                if error.is_race() {
                    tracing::debug!(
                        controller = self.name,
                        key = key.name,
                        "{error}; retrying in {delay:?}"
                    );
                } else {
                    tracing::warn!(
                        controller = self.name,
                        key = key.name,
                        "{error}; retrying in {delay:?}"
                    );
                }
            }
        }
        if let Some(millis) = answer.requeue_after_millis {
            working
                .queue
                .add_after(key.clone(), Duration::from_millis(millis));
        }
    }
}

/// Applies `actions` in order (a run of creates concurrently), stopping at the first
/// failure; answers how many were applied, and the failure.
async fn apply_all(applier: &Applier, actions: &[Action]) -> Result<u64, (u64, ActionError)> {
    let mut applied = 0;
    let mut rest = actions;
    while let Some(first) = rest.first() {
        let run = match first {
            Action::Create(_) => rest
                .iter()
                .take_while(|a| matches!(a, Action::Create(_)))
                .count(),
            _ => 1,
        };
        let (now, later) = rest.split_at(run);
        rest = later;
        // Owned futures: a stream of futures borrowing `now` would not be `Send` for every
        // lifetime, which the spawned runner needs.
        let futures: Vec<_> = now
            .iter()
            .map(|action| {
                let (applier, action) = (applier.clone(), action.clone());
                async move { applier.apply(&action).await }
            })
            .collect();
        let mut results = futures::stream::iter(futures).buffer_unordered(CONCURRENT_CREATES);
        let mut failure = None;
        while let Some(result) = results.next().await {
            match result {
                Ok(()) => applied += 1,
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failure {
            return Err((applied, error));
        }
    }
    Ok(applied)
}
