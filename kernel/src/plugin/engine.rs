//! The wasmtime engines and the ticker that drives their deadlines.
//!
//! Every engine has the component model, the pooling allocator and epoch interruption (the
//! wall-clock deadline); fuel metering (the deterministic budget) is on for plugins that
//! declare a budget. The wasm stack limit and fuel metering are engine settings, so there is
//! one engine per combination in use; most plugins share the default one. One thread advances
//! every engine's epoch each [`EPOCH_TICK`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
};

use super::error::LoadError;
use super::limits::MAX_MEMORY_BYTES;

/// How often epochs advance: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Set to `perfmap`, plugins' compiled functions are listed in `/tmp/perf-<pid>.map`, so
/// `perf` names them (by the names in the component's name section, if it kept one).
pub const PROFILER_VAR: &str = "KEEL_PLUGIN_PROFILER";

/// Component instances (all plugins' warm instances together) the pool has room for.
const TOTAL_COMPONENT_INSTANCES: u32 = 1000;

/// What distinguishes engines: the wasm stack limit and whether fuel is metered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EngineKey {
    /// `max_wasm_stack`, in bytes.
    pub stack_bytes: u64,
    /// Whether calls consume fuel.
    pub metered: bool,
}

/// The host's engines, by key.
pub struct Engines {
    by_key: Mutex<BTreeMap<EngineKey, Engine>>,
    this: Weak<Engines>,
}

impl Engines {
    /// No engines yet; the ticker starts with the first one.
    pub fn new() -> Arc<Engines> {
        Arc::new_cyclic(|this| Engines {
            by_key: Mutex::new(BTreeMap::new()),
            this: this.clone(),
        })
    }

    /// The engine for plugins with this key. Making the first engine starts the ticker
    /// (which lives as long as the engines do); without it no deadline could fire, so a
    /// failure to start it is an error.
    pub fn get(&self, key: EngineKey) -> Result<Engine, LoadError> {
        let mut engines = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(engine) = engines.get(&key) {
            return Ok(engine.clone());
        }
        if engines.is_empty() {
            let this = self.this.clone();
            std::thread::Builder::new()
                .name("keel-plugin-epoch".into())
                .spawn(move || tick(this))
                .map_err(|e| LoadError::Spec(format!("cannot start the deadline ticker: {e}")))?;
        }
        let engine = Engine::new(&config(key))
            .map_err(|e| LoadError::Spec(format!("no engine for {key:?}: {e:#}")))?;
        engines.insert(key, engine.clone());
        Ok(engine)
    }
}

fn tick(engines: Weak<Engines>) {
    loop {
        std::thread::sleep(EPOCH_TICK);
        let Some(engines) = engines.upgrade() else {
            return;
        };
        for engine in engines
            .by_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            engine.increment_epoch();
        }
    }
}

/// The one engine configuration, but for what `key` sets.
pub(crate) fn config(key: EngineKey) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(TOTAL_COMPONENT_INSTANCES)
        .total_core_instances(TOTAL_COMPONENT_INSTANCES * 4)
        .total_memories(TOTAL_COMPONENT_INSTANCES * 2)
        .total_tables(TOTAL_COMPONENT_INSTANCES * 4)
        .max_memory_size(MAX_MEMORY_BYTES as usize)
        .max_core_instances_per_component(64)
        .max_memories_per_component(16)
        .max_tables_per_component(64)
        .max_tables_per_module(2)
        // An interpreter's function table (CPython in componentize-py's output) is large.
        .table_elements(100_000)
        .max_component_instance_size(4 << 20)
        .max_core_instance_size(4 << 20);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(key.metered)
        .max_wasm_stack(key.stack_bytes as usize)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if std::env::var_os(PROFILER_VAR).is_some_and(|v| v == "perfmap") {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    config
}
