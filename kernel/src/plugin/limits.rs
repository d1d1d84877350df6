//! What one plugin may use: the limits its `Plugin` object declares, their defaults and
//! bounds, and the store limiter that enforces the memory cap.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Per-plugin limits, as `spec.limits` of a `Plugin` object spells them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    /// Linear memory, in bytes, summed over the component's memories.
    pub memory_bytes: u64,
    /// Wall-clock time one call may take, in milliseconds (epoch interruption).
    pub timeout_millis: u64,
    /// Deterministic budget for one call, in wasmtime fuel units (about one per
    /// instruction), for plugins whose cost must fail the same way on any machine. `null`,
    /// the default, leaves the call bounded by its deadline alone: metering costs every call
    /// (the default admission chain takes a fifth longer metered, tight loops about 15%:
    /// admission-bench and plugin-bench), and the deadline bounds a call as surely.
    pub fuel: Option<u64>,
    /// Native stack the plugin's wasm may use, in bytes.
    pub stack_bytes: u64,
    /// Log output one call may write through `host.log`, in bytes; more is dropped.
    pub log_bytes: u64,
    /// Size of one call's answer, in bytes; a larger answer is a bad return value.
    pub answer_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            timeout_millis: 1000,
            fuel: None,
            stack_bytes: 512 << 10,
            log_bytes: 64 << 10,
            answer_bytes: 4 << 20,
        }
    }
}

/// The largest limits any plugin may declare: what the host is sized for.
pub const MAX_MEMORY_BYTES: u64 = 1 << 30;
/// The longest deadline a plugin may declare.
pub const MAX_TIMEOUT_MILLIS: u64 = 60_000;
/// The largest stack a plugin may declare; also bounded by the host thread's own stack.
pub const MAX_STACK_BYTES: u64 = 4 << 20;

impl Limits {
    /// Checks the limits are within what the host allows.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                self.memory_bytes == 0 || self.memory_bytes > MAX_MEMORY_BYTES,
                "memoryBytes",
                MAX_MEMORY_BYTES,
            ),
            (
                self.timeout_millis == 0 || self.timeout_millis > MAX_TIMEOUT_MILLIS,
                "timeoutMillis",
                MAX_TIMEOUT_MILLIS,
            ),
            (
                self.stack_bytes < 64 << 10 || self.stack_bytes > MAX_STACK_BYTES,
                "stackBytes",
                MAX_STACK_BYTES,
            ),
            (self.fuel == Some(0), "fuel", u64::MAX),
        ];
        match checks.iter().find(|(bad, ..)| *bad) {
            Some((_, field, max)) => Err(format!(
                "limits.{field} must be above its minimum and at most {max}"
            )),
            None => Ok(()),
        }
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_millis)
    }
}

/// Enforces the memory cap, and remembers whether it refused a growth so a trap that
/// follows (an allocator aborting) is reported as the cap it is. Plugins and the node's
/// WebAssembly containers use it alike.
pub struct MemoryLimiter {
    pub(crate) cap: usize,
    pub(crate) refused: bool,
    /// Bytes in the memories other than the one growing are not tracked: a component built
    /// by wit-bindgen or componentize-py has one main memory, and the pooling allocator
    /// bounds each memory anyway.
    pub(crate) peak: usize,
}

/// Growth of tables is capped at this many elements.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    /// A limiter that lets each memory grow to `cap` bytes.
    pub fn new(cap: usize) -> MemoryLimiter {
        MemoryLimiter {
            cap,
            refused: false,
            peak: 0,
        }
    }

    /// Whether it refused a growth.
    pub fn refused(&self) -> bool {
        self.refused
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.refused = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
