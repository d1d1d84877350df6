//! The plugin catalog: `Plugin` objects made live.
//!
//! - [`Catalog`]: every plugin's live slot, by name; what callers (admission, scheduler,
//!   controller and network hosts) ask for the plugins of a type, in order.
//! - [`sync`]: the loop that follows `Plugin` and `PluginModule` objects, loads each new
//!   spec through the plugin host, swaps it in only once it loaded, and reports in the
//!   Plugin's status what this host runs, why a spec was refused, call counters, and the
//!   revision history `keel plugin rollback` uses.
//! - [`modules`]: modules as content-addressed `PluginModule` objects (`keel plugin push`
//!   also reads them from OCI image layouts, [`crate::oci`]); [`install`]: the plugins a
//!   cluster starts with.
//!
//! **Invariant**: a spec that fails to load never replaces the version serving.

pub mod install;
pub mod modules;
pub mod status;
pub mod sync;

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::watch;

use crate::plugin::{CallStats, Plugin, PluginSlot, PluginType};

/// Where clients of the API read and write `Plugin` objects.
pub const PLUGINS_PATH: &str = "/apis/keel.dev/v1alpha1/plugins";
/// Where clients of the API read and write `PluginModule` objects.
pub const MODULES_PATH: &str = "/apis/keel.dev/v1alpha1/pluginmodules";

/// Every live plugin, by name.
pub struct Catalog {
    slots: RwLock<BTreeMap<String, Arc<PluginSlot>>>,
    changes: watch::Sender<u64>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Arc<Catalog> {
        Arc::new(Catalog {
            slots: RwLock::new(BTreeMap::new()),
            changes: watch::Sender::new(0),
        })
    }

    /// The slot of plugin `name`.
    pub fn slot(&self, name: &str) -> Option<Arc<PluginSlot>> {
        self.slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The version of plugin `name` serving now.
    pub fn current(&self, name: &str) -> Option<Arc<Plugin>> {
        self.slot(name).map(|slot| slot.current())
    }

    /// The versions serving now of every plugin of `plugin_type`, by `spec.order`, then name.
    pub fn of_type(&self, plugin_type: PluginType) -> Vec<Arc<Plugin>> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        let mut plugins: Vec<Arc<Plugin>> = slots
            .values()
            .filter_map(|s| s.current_if(|p| p.spec().plugin_type == plugin_type))
            .collect();
        plugins.sort_by(|a, b| (a.spec().order, a.name()).cmp(&(b.spec().order, b.name())));
        plugins
    }

    /// Waits until the version of `name` serving satisfies `wanted`, or `timeout` passes;
    /// answers whether it did.
    pub async fn wait_for(
        &self,
        name: &str,
        wanted: impl Fn(&Plugin) -> bool,
        timeout: std::time::Duration,
    ) -> bool {
        let mut changes = self.changes();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.current(name).is_some_and(|p| wanted(&p)) {
                return true;
            }
            if !matches!(
                tokio::time::timeout_at(deadline, changes.changed()).await,
                Ok(Ok(()))
            ) {
                return false;
            }
        }
    }

    /// A signal that counts changes (a version installed or a plugin removed).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The counters of plugin `name`, kept across its versions.
    pub(crate) fn stats(&self, name: &str) -> Arc<CallStats> {
        self.slot(name)
            .map(|s| s.stats().clone())
            .unwrap_or_default()
    }

    /// Makes `plugin` the version of its name serving now.
    pub(crate) fn install(&self, plugin: Plugin, stats: Arc<CallStats>) {
        let name = plugin.name().to_string();
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        match slots.get(&name) {
            Some(slot) => {
                slot.swap(plugin);
            }
            None => {
                slots.insert(name, Arc::new(PluginSlot::new(plugin, stats)));
            }
        }
        drop(slots);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Stops serving plugin `name`; calls in flight finish.
    pub(crate) fn remove(&self, name: &str) {
        if self
            .slots
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .is_some()
        {
            self.changes.send_modify(|n| *n += 1);
        }
    }

    /// The names of every live plugin.
    pub fn names(&self) -> Vec<String> {
        self.slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }
}
