//! The catalog's loop: follow `Plugin` and `PluginModule` objects, load each new spec, swap
//! it in once it loaded, and write what happened into the Plugin's status.
//!
//! A spec is loaded when it differs from the one serving; a refused spec is not tried again
//! until it changes or a `PluginModule` arrives (it may have been missing). A module is
//! compiled when it arrives, in the background, so swapping to it later does not compile. Loading runs on
//! a blocking thread (compiling can take a while); the loop handles one Plugin at a time.
//! Call counters are written to `status.stats` every [`STATS_EVERY`] when they changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Catalog;
use super::modules;
use super::status::{self, Outcome};
use crate::client::{WatchEvent, Watcher};
use crate::object::ResourceType;
use crate::object::patch::PatchType;
use crate::object::resource::KEEL_GROUP;
use crate::object::selector::LabelSelector;
use crate::plugin::{LoadError, PluginHost, PluginSpec, StatsSnapshot};
use crate::registry::{Objects, Part, WriteOptions};

/// How often call counters are written to the Plugins' status.
pub const STATS_EVERY: Duration = Duration::from_secs(10);

/// The catalog's loop and what it remembers between events.
pub struct CatalogSync {
    objects: Objects,
    host: Arc<PluginHost>,
    catalog: Arc<Catalog>,
    /// This host's name in `status.hosts`.
    host_name: String,
    plugins: &'static ResourceType,
    modules: &'static ResourceType,
    /// The spec each plugin serves.
    serving: HashMap<String, PluginSpec>,
    /// The spec last refused for each plugin, not tried again until it changes.
    refused: HashMap<String, PluginSpec>,
    /// The counters last written for each plugin.
    published: HashMap<String, StatsSnapshot>,
}

impl CatalogSync {
    /// A loop that keeps `catalog` in step with the Plugin objects in `objects`.
    pub fn new(
        objects: Objects,
        host: Arc<PluginHost>,
        catalog: Arc<Catalog>,
        host_name: String,
    ) -> anyhow::Result<CatalogSync> {
        let kind = |plural| {
            objects
                .kinds()
                .by_path(KEEL_GROUP, "v1alpha1", plural)
                .ok_or_else(|| anyhow::anyhow!("{plural} are not served"))
        };
        let (plugins, modules) = (kind("plugins")?, kind("pluginmodules")?);
        Ok(CatalogSync {
            objects,
            host,
            catalog,
            host_name,
            plugins,
            modules,
            serving: HashMap::new(),
            refused: HashMap::new(),
            published: HashMap::new(),
        })
    }

    /// Runs until the task is dropped.
    pub async fn run(mut self) {
        let mut plugin_events = Watcher::new(self.objects.clone(), self.plugins);
        let mut module_events = Watcher::new(self.objects.clone(), self.modules);
        let mut stats_tick = tokio::time::interval(STATS_EVERY);
        loop {
            // Each branch is cancel-safe: a watcher keeps its place when `next` is dropped.
            tokio::select! {
                event = plugin_events.next() => self.on_plugin_event(event).await,
                event = module_events.next() => self.on_module_event(event).await,
                _ = stats_tick.tick() => self.publish_stats().await,
            }
        }
    }

    async fn on_plugin_event(&mut self, event: WatchEvent) {
        match event {
            WatchEvent::Restarted(objects) => {
                let names: Vec<&str> = objects.iter().filter_map(|o| name(o)).collect();
                for gone in self
                    .catalog
                    .names()
                    .into_iter()
                    .filter(|n| !names.contains(&n.as_str()))
                {
                    self.forget(&gone);
                }
                for object in &objects {
                    self.reconcile(object).await;
                }
            }
            WatchEvent::Applied(object) => self.reconcile(&object).await,
            WatchEvent::Deleted(object) => {
                if let Some(name) = name(&object) {
                    self.forget(name);
                }
            }
            WatchEvent::Bookmark(_) => {}
        }
    }

    /// A module arrived: compile it in the background (so the Plugin that names it later
    /// swaps without compiling), and retry the Plugins refused, which may have waited for it.
    async fn on_module_event(&mut self, event: WatchEvent) {
        let arrived = match event {
            WatchEvent::Applied(object) => vec![object],
            WatchEvent::Restarted(objects) => objects,
            WatchEvent::Deleted(_) | WatchEvent::Bookmark(_) => return,
        };
        for object in &arrived {
            let Some(digest) = modules::module_digest(object) else {
                continue;
            };
            let (objects, kind) = (self.objects.clone(), self.modules);
            let Ok(bytes) = modules::assemble(digest, |n| objects.get(kind, None, n).ok()) else {
                continue;
            };
            let host = self.host.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(error) = host.precompile(&bytes) {
                    tracing::info!("module does not compile ahead of use: {error}");
                }
            });
        }
        self.retry_refused().await;
    }

    fn forget(&mut self, name: &str) {
        self.catalog.remove(name);
        self.serving.remove(name);
        self.refused.remove(name);
        self.published.remove(name);
        tracing::info!(plugin = name, "plugin removed");
    }

    async fn retry_refused(&mut self) {
        let names: Vec<String> = self.refused.drain().map(|(name, _)| name).collect();
        for name in names {
            if let Ok(object) = self.objects.get(self.plugins, None, &name) {
                self.reconcile(&object).await;
            }
        }
    }

    /// Brings plugin `object` to its spec, and its status to what happened.
    async fn reconcile(&mut self, object: &Value) {
        let Some(name) = name(object).map(str::to_string) else {
            return;
        };
        let serving = self.serving.get(&name).map(|s| s.module.clone());
        let spec =
            PluginSpec::from_object(object).and_then(|spec| match &spec.namespace_selector {
                Some(selector) => LabelSelector::from_object(selector)
                    .map(|_| spec)
                    .map_err(|e| LoadError::Spec(format!("namespaceSelector: {e}"))),
                None => Ok(spec),
            });
        let spec = match spec {
            Ok(spec) => spec,
            Err(error) => {
                return self
                    .refuse(object, &name, None, &error, serving.as_deref())
                    .await;
            }
        };
        if self.serving.get(&name) == Some(&spec) {
            return self.report(object, &Outcome::Serving(&spec)).await;
        }
        if self.refused.get(&name) == Some(&spec) {
            return;
        }
        match self.load(&name, spec.clone()).await {
            Ok(()) => {
                tracing::info!(
                    plugin = name,
                    module = spec.module,
                    "plugin version serving"
                );
                self.refused.remove(&name);
                self.serving.insert(name, spec.clone());
                self.report(object, &Outcome::Serving(&spec)).await;
            }
            Err(error) => {
                self.refuse(object, &name, Some(spec), &error, serving.as_deref())
                    .await
            }
        }
    }

    async fn load(&self, name: &str, spec: PluginSpec) -> Result<(), LoadError> {
        let module_kind = self.modules;
        let objects = self.objects.clone();
        let bytes = modules::assemble(&spec.module, |n| objects.get(module_kind, None, n).ok())
            .map_err(|reason| LoadError::Missing {
                digest: spec.module.clone(),
                reason,
            })?;
        let (host, stats, owned_name) = (
            self.host.clone(),
            self.catalog.stats(name),
            name.to_string(),
        );
        let loaded = tokio::task::spawn_blocking(move || {
            host.load(&owned_name, spec, &bytes, stats.clone())
                .map(|p| (p, stats))
        })
        .await
        .map_err(|e| LoadError::Instantiate(format!("the loading thread failed: {e}")))?;
        let (plugin, stats) = loaded?;
        self.catalog.install(plugin, stats);
        Ok(())
    }

    async fn refuse(
        &mut self,
        object: &Value,
        name: &str,
        spec: Option<PluginSpec>,
        error: &LoadError,
        serving: Option<&str>,
    ) {
        tracing::warn!(plugin = name, "plugin spec refused: {error}");
        if let Some(spec) = spec {
            self.refused.insert(name.to_string(), spec);
        }
        let outcome = Outcome::Refused {
            reason: error.reason(),
            message: error.to_string(),
            serving,
        };
        self.report(object, &outcome).await;
    }

    /// Writes the status for `outcome` on the spec of `object` (the event's copy), based
    /// on the Plugin as stored now: the event's copy may predate status this loop wrote.
    async fn report(&self, object: &Value, outcome: &Outcome<'_>) {
        let Some(name) = name(object) else { return };
        let Ok(stored) = self.objects.get(self.plugins, None, name) else {
            return;
        };
        if stored.pointer("/metadata/uid") != object.pointer("/metadata/uid") {
            return;
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let desired = status::desired(
            &stored,
            status::generation(object),
            &self.host_name,
            outcome,
            &now,
        );
        if status::differs(&stored, &desired) {
            self.write_status(name, json!({"status": desired})).await;
        }
    }

    async fn publish_stats(&mut self) {
        for name in self.catalog.names() {
            let Some(slot) = self.catalog.slot(&name) else {
                continue;
            };
            let snapshot = slot.stats().snapshot();
            if self.published.get(&name) == Some(&snapshot) {
                continue;
            }
            self.write_status(
                &name,
                json!({"status": {"stats": status::stats(&snapshot)}}),
            )
            .await;
            self.published.insert(name, snapshot);
        }
    }

    async fn write_status(&self, name: &str, patch: Value) {
        let written = self
            .objects
            .patch(
                self.plugins,
                None,
                name,
                PatchType::Merge,
                &patch,
                Part::Status,
                WriteOptions::default(),
            )
            .await;
        if let Err(error) = written {
            tracing::warn!(plugin = name, "cannot write the plugin's status: {error}");
        }
    }
}

fn name(object: &Value) -> Option<&str> {
    object.pointer("/metadata/name").and_then(Value::as_str)
}
