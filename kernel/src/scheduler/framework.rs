//! The plugins a scheduling cycle runs: [`SchedulingPlugin`] is one filter and/or scorer
//! as a cycle sees it, and [`PluginSet`] says which run now, in order.
//!
//! [`CatalogPlugins`] is the live set: the catalog's scheduler plugins by `spec.order`,
//! each asked once per loaded version what it implements (`describe`), so a Plugin object
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

/// A WebAssembly scheduler plugin version, with what it said it implements.
pub struct WasmPlugin {
    plugin: Arc<Plugin>,
    capabilities: Result<Capabilities, CallError>,
}

impl WasmPlugin {
    /// Asks `plugin` what it implements. A plugin that cannot answer is kept: its calls
    /// fail with that error, under its failure policy.
    pub fn new(plugin: Arc<Plugin>) -> WasmPlugin {
        let capabilities = plugin.capabilities();
        WasmPlugin {
            plugin,
            capabilities,
        }
    }
}

impl SchedulingPlugin for WasmPlugin {
    fn name(&self) -> &str {
        self.plugin.name()
    }
    fn weight(&self) -> u32 {
        self.plugin.spec().weight
    }
    fn failure_policy(&self) -> FailurePolicy {
        self.plugin.spec().failure_policy
    }
    fn capabilities(&self) -> Capabilities {
        // A plugin that could not describe itself filters, so its error is seen.
        self.capabilities.clone().unwrap_or(Capabilities {
            filters: true,
            scores: false,
            reads_usage: false,
            reads_pods: false,
            filter_needs: None,
            score_needs: None,
        })
    }
    fn filter(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<FilterResult, CallError> {
        if let Err(error) = &self.capabilities {
            return Err(error.clone());
        }
        self.plugin.filter(tables, pod, candidates)
    }
    fn score(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<Vec<u32>, CallError> {
        self.plugin.score(tables, pod, candidates)
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
                .map(|v| {
                    // A version already described keeps its answer.
                    let known = last.0.iter().position(|old| Arc::ptr_eq(old, v));
                    match known {
                        Some(i) => last.1[i].clone(),
                        None => Arc::new(WasmPlugin::new(v.clone())) as Arc<dyn SchedulingPlugin>,
                    }
                })
                .collect();
            *last = (versions, Arc::from(set));
        }
        last.1.clone()
    }
}
