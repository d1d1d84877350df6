//! The controller host, in the manner of kube-runtime: per controller plugin a watcher-backed
//! cache of the kinds its `Plugin` spec names, a de-duplicating, rate-limited work queue,
//! and a loop that reconciles one key at a time through the plugin and applies its answer
//! with optimistic concurrency.
//!
//! - [`queue`]: the work queue (dedup, back-off, delays; a key is never handled twice at once).
//! - [`keys`]: which keys a change reconciles (the object, its owners, orphans to adopt,
//!   dependents).
//! - [`apply`]: actions to registry verbs, within the kinds the Plugin grants.
//! - [`runner`]: one controller's cache, queue and loop; [`stats`]: its counters.
//!
//! Which controllers run follows the catalog: a new controller Plugin starts a runner; a
//! new module or configuration is picked up by the next reconcile (the queue and cache
//! stay, so no key is lost); a changed `spec.controller` stops the runner (after the
//! reconcile in progress) before its successor starts, which relists and so reconciles
//! every key again.

pub mod apply;
pub mod keys;
pub mod queue;
pub mod runner;
pub mod stats;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catalog::Catalog;
use crate::plugin::{ControllerSpec, PluginType};
use crate::registry::Objects;
use runner::Runner;
pub use stats::{ControllerStats, ControllerStatsSnapshot};

/// The running controller host.
pub struct ControllerHost {
    task: JoinHandle<()>,
    stats: Arc<Mutex<BTreeMap<String, Arc<ControllerStats>>>>,
}

struct Running {
    spec: ControllerSpec,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ControllerHost {
    /// Starts following the catalog's controller plugins.
    pub fn start(objects: Objects, catalog: Arc<Catalog>) -> ControllerHost {
        let stats = Arc::new(Mutex::new(BTreeMap::new()));
        let task = tokio::spawn(follow(objects, catalog, stats.clone()));
        ControllerHost { task, stats }
    }

    /// The counters of controller `name` (kept across restarts of its runner).
    pub fn stats(&self, name: &str) -> Option<ControllerStatsSnapshot> {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(|s| s.snapshot())
    }

    /// Stops every controller.
    pub fn abort(&self) {
        self.task.abort();
    }
}

async fn follow(
    objects: Objects,
    catalog: Arc<Catalog>,
    stats: Arc<Mutex<BTreeMap<String, Arc<ControllerStats>>>>,
) {
    let mut running: BTreeMap<String, Running> = BTreeMap::new();
    let mut changes = catalog.changes();
    // Runners stop with the host: aborting this task drops `running`, whose stop senders
    // end every runner's loop.
    loop {
        let wanted: BTreeMap<String, ControllerSpec> = catalog
            .of_type(PluginType::Controller)
            .iter()
            .filter_map(|p| Some((p.name().to_string(), p.spec().controller.clone()?)))
            .collect();
        let stale: Vec<String> = running
            .iter()
            .filter(|(name, r)| wanted.get(*name) != Some(&r.spec))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(old) = running.remove(&name) {
                let _ = old.stop.send(true);
                // The successor starts only once this one has stopped: no key is
                // reconciled by both.
                let _ = old.task.await;
            }
        }
        for (name, spec) in wanted {
            if running.contains_key(&name) {
                continue;
            }
            let counters = stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(name.clone())
                .or_default()
                .clone();
            let (stop, stopped) = watch::channel(false);
            let runner = Runner {
                name: name.clone(),
                spec: spec.clone(),
                objects: objects.clone(),
                catalog: catalog.clone(),
                stats: counters,
            };
            let task = tokio::spawn(runner.run(stopped));
            running.insert(name, Running { spec, stop, task });
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}
