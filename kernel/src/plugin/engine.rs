//! The wasmtime engines and the ticker that drives their deadlines.
//!
//! Every engine has the component model, the pooling allocator, epoch interruption (the
//! wall-clock deadline) and fuel (the deterministic budget). The wasm stack limit is an
//! engine setting, so there is one engine per stack limit in use; most plugins share the
//! default one. One thread advances every engine's epoch each [`EPOCH_TICK`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::error::LoadError;
use super::limits::MAX_MEMORY_BYTES;

/// How often epochs advance: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Component instances (all plugins' warm instances together) the pool has room for.
const TOTAL_COMPONENT_INSTANCES: u32 = 1000;

/// The host's engines, by stack limit.
pub struct Engines {
    by_stack: Mutex<BTreeMap<u64, Engine>>,
}

impl Engines {
    /// No engines yet, and a ticker thread that lives as long as they do.
    pub fn new() -> Arc<Engines> {
        let engines = Arc::new(Engines {
            by_stack: Mutex::new(BTreeMap::new()),
        });
        let weak = Arc::downgrade(&engines);
        std::thread::Builder::new()
            .name("keel-plugin-epoch".into())
            .spawn(move || tick(weak))
            .map_err(|e| tracing::error!("cannot start the plugin epoch ticker: {e}"))
            .ok();
        engines
    }

    /// The engine for plugins with this stack limit.
    pub fn get(&self, stack_bytes: u64) -> Result<Engine, LoadError> {
        let mut engines = self.by_stack.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(engine) = engines.get(&stack_bytes) {
            return Ok(engine.clone());
        }
        let engine = Engine::new(&config(stack_bytes)).map_err(|e| {
            LoadError::Spec(format!("no engine for stackBytes {stack_bytes}: {e:#}"))
        })?;
        engines.insert(stack_bytes, engine.clone());
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
            .by_stack
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            engine.increment_epoch();
        }
    }
}

/// The one engine configuration, but for the stack limit.
pub(crate) fn config(stack_bytes: u64) -> Config {
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
        .consume_fuel(true)
        .max_wasm_stack(stack_bytes as usize)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}
