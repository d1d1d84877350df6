//! Counters of one controller: reconciles, their failures, actions applied and lost to
//! races, and where the time went (plugin calls against API writes).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters.
#[derive(Debug, Default)]
pub struct ControllerStats {
    reconciles: AtomicU64,
    failures: AtomicU64,
    actions: AtomicU64,
    races: AtomicU64,
    refused: AtomicU64,
    plugin_nanos: AtomicU64,
    write_nanos: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ControllerStatsSnapshot {
    /// Reconcile calls made.
    pub reconciles: u64,
    /// Calls that failed (trap, timeout, an error answered).
    pub failures: u64,
    /// Actions applied.
    pub actions: u64,
    /// Actions lost to optimistic concurrency (conflict, already exists, not found).
    pub races: u64,
    /// Actions refused (not granted, malformed) or failed otherwise.
    pub refused: u64,
    /// Time in plugin calls.
    pub plugin_time: Duration,
    /// Time applying actions through the API.
    pub write_time: Duration,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl ControllerStats {
    /// Counts one call that took `took`, and whether it failed.
    pub fn call(&self, took: Duration, failed: bool) {
        add(&self.reconciles, 1);
        add(&self.plugin_nanos, nanos(took));
        if failed {
            add(&self.failures, 1);
        }
    }

    /// Counts the writes of one answer.
    pub fn writes(&self, took: Duration, applied: u64, races: u64, refused: u64) {
        add(&self.write_nanos, nanos(took));
        add(&self.actions, applied);
        add(&self.races, races);
        add(&self.refused, refused);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ControllerStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ControllerStatsSnapshot {
            reconciles: get(&self.reconciles),
            failures: get(&self.failures),
            actions: get(&self.actions),
            races: get(&self.races),
            refused: get(&self.refused),
            plugin_time: Duration::from_nanos(get(&self.plugin_nanos)),
            write_time: Duration::from_nanos(get(&self.write_nanos)),
        }
    }
}
