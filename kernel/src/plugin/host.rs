//! The plugin host: turns module bytes and a `Plugin` spec into a [`Plugin`] version that
//! is compiled, contract-checked, linked with only what the host grants, instantiated once,
//! and asked what it implements (its type's `describe`). Anything that fails here is a
//! [`LoadError`]; nothing replaces a running version until this has succeeded.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::bindings::{admission, controller, network, scheduler};
use super::compile::{CompileCache, digest};
use super::contract;
use super::engine::{EngineKey, Engines};
use super::error::LoadError;
use super::instance::{Described, Plugin, Pre};
use super::limits::Limits;
use super::spec::{PluginSpec, PluginType};
use super::state::HostState;
use super::stats::CallStats;

/// Loads plugin versions.
pub struct PluginHost {
    engines: Arc<Engines>,
    cache: CompileCache,
}

impl PluginHost {
    /// A host caching compiled components under `cache_dir` (in memory only when `None`).
    pub fn new(cache_dir: Option<PathBuf>) -> PluginHost {
        PluginHost {
            engines: Engines::new(),
            cache: CompileCache::new(cache_dir),
        }
    }

    /// Compiles `bytes` for plugins with default limits and keeps the result in the cache,
    /// so a Plugin that later names this module swaps without compiling.
    pub fn precompile(&self, bytes: &[u8]) -> Result<(), LoadError> {
        let limits = Limits::default();
        let engine = self.engines.get(EngineKey {
            stack_bytes: limits.stack_bytes,
            metered: limits.fuel.is_some(),
        })?;
        self.cache
            .component(&engine, &digest(bytes), bytes)
            .map(drop)
    }

    /// Loads `bytes` as version `spec` of plugin `name`, counting its calls in `stats`.
    pub fn load(
        &self,
        name: &str,
        spec: PluginSpec,
        bytes: &[u8],
        stats: Arc<CallStats>,
    ) -> Result<Plugin, LoadError> {
        let actual = digest(bytes);
        if actual != spec.module {
            return Err(LoadError::DigestMismatch {
                expected: spec.module.clone(),
                actual,
            });
        }
        spec.limits.validate().map_err(LoadError::Spec)?;
        let engine = self.engines.get(EngineKey {
            stack_bytes: spec.limits.stack_bytes,
            metered: spec.limits.fuel.is_some(),
        })?;
        let component = self.cache.component(&engine, &spec.module, bytes)?;
        contract::check(&engine, &component, spec.plugin_type)?;

        let pre = link(&engine, &component, spec.plugin_type)?;
        let plugin_type = spec.plugin_type;
        let plugin = Plugin::new(name, Arc::new(spec), engine, pre, stats);
        plugin
            .warm_up()
            .map_err(|e| LoadError::Instantiate(e.kind.to_string()))?;
        // Asked once: callers skip what the module does not implement.
        let described = match plugin_type {
            PluginType::Scheduler => plugin.describe_scheduler().map(Described::Scheduler),
            PluginType::Admission => {
                wasmtime_wasi::runtime::in_tokio(plugin.describe_admission_async())
                    .map(Described::Admission)
            }
            PluginType::Controller | PluginType::Network => Ok(Described::Nothing),
        }
        .map_err(|e| LoadError::Describe(e.kind.to_string()))?;
        Ok(plugin.with_described(described))
    }
}

/// Links `component` with WASI (granting nothing) and its type's world, and pre-instantiates it.
fn link(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
    plugin_type: PluginType,
) -> Result<Pre, LoadError> {
    let error = |e: wasmtime::Error| LoadError::Link(format!("{e:#}"));
    let mut linker = Linker::<HostState>::new(engine);
    // Admission plugins are called async (in the request's task), so their WASI is async
    // too: sync WASI blocks on a runtime of its own, which panics on a runtime's worker.
    if plugin_type == PluginType::Admission {
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(error)?;
    } else {
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(error)?;
    }
    macro_rules! world {
        ($world:ty, $pre:ty, $variant:ident) => {{
            <$world>::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).map_err(error)?;
            let instance_pre = linker.instantiate_pre(component).map_err(error)?;
            Pre::$variant(<$pre>::new(instance_pre).map_err(error)?)
        }};
    }
    Ok(match plugin_type {
        PluginType::Scheduler => world!(
            scheduler::SchedulerPlugin,
            scheduler::SchedulerPluginPre<HostState>,
            Scheduler
        ),
        PluginType::Admission => world!(
            admission::AdmissionPlugin,
            admission::AdmissionPluginPre<HostState>,
            Admission
        ),
        PluginType::Controller => world!(
            controller::ControllerPlugin,
            controller::ControllerPluginPre<HostState>,
            Controller
        ),
        PluginType::Network => world!(
            network::NetworkPlugin,
            network::NetworkPluginPre<HostState>,
            Network
        ),
    })
}
