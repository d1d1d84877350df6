//! The plugins a scheduling cycle runs: [`SchedulingPlugin`] is one filter and/or scorer
//! as a cycle sees it, and [`PluginSet`] says which run now, in order.
//!
//! [`CatalogPlugins`] is the live set: the catalog's scheduler plugins by `spec.order`
//! (each said what it implements, `describe`, when its version loaded), so a Plugin object
//! changed, added or removed takes effect at the next cycle. Embedders (the benchmark's
//! native run) give a set of their own.

use std::sync::{Arc, Mutex, PoisonError};

use crate::catalog::Catalog;
use crate::plugin::calls::{Candidates, Capabilities, FilterResult, Pod};
use crate::plugin::{CallError, FailurePolicy, Plugin, PluginType, Tables};

/// One scheduler plugin as a cycle calls it.
pub trait SchedulingPlugin: Send + Sync {
    /// Its name (the Plugin object's).
    fn name(&self) -> &str;
    /// How much its scores count.
    fn weight(&self) -> u32;
    /// What the cycle does when a call fails.
    fn failure_policy(&self) -> FailurePolicy;
    /// What it implements and reads.
    fn capabilities(&self) -> Capabilities;
    /// Which candidates can run `pod`.
    fn filter(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<FilterResult, CallError>;
    /// A score in 0..=100 per candidate.
    fn score(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<Vec<u32>, CallError>;
}

/// Scheduler plugins in the order they run.
pub type Plugins = Arc<[Arc<dyn SchedulingPlugin>]>;

/// The plugins that run now, in order.
pub trait PluginSet: Send + Sync {
    /// The current plugins.
    fn current(&self) -> Plugins;
}

/// A WebAssembly scheduler plugin version (which said what it implements when it loaded).
pub struct WasmPlugin(pub Arc<Plugin>);

impl SchedulingPlugin for WasmPlugin {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn weight(&self) -> u32 {
        self.0.spec().weight
    }
    fn failure_policy(&self) -> FailurePolicy {
        self.0.spec().failure_policy
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    fn filter(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<FilterResult, CallError> {
        self.0.filter(tables, pod, candidates)
    }
    fn score(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<Vec<u32>, CallError> {
        self.0.score(tables, pod, candidates)
    }
}

/// The catalog's scheduler plugins, following it live.
pub struct CatalogPlugins {
    catalog: Arc<Catalog>,
    /// The versions last seen, and the set made of them.
    last: Mutex<(Vec<Arc<Plugin>>, Plugins)>,
}

impl CatalogPlugins {
    /// The scheduler plugins of `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> CatalogPlugins {
        CatalogPlugins {
            catalog,
            last: Mutex::new((Vec::new(), Arc::from(Vec::new()))),
        }
    }
}

impl PluginSet for CatalogPlugins {
    fn current(&self) -> Plugins {
        let versions = self.catalog.of_type(PluginType::Scheduler);
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let same = last.0.len() == versions.len()
            && last.0.iter().zip(&versions).all(|(a, b)| Arc::ptr_eq(a, b));
        if !same {
            let set: Vec<Arc<dyn SchedulingPlugin>> = versions
                .iter()
                .map(|v| Arc::new(WasmPlugin(v.clone())) as Arc<dyn SchedulingPlugin>)
                .collect();
            *last = (versions, Arc::from(set));
        }
        last.1.clone()
    }
}
