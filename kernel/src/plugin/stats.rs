//! Call counters of one plugin across its versions: calls, errors by reason, and latency
//! in power-of-two microsecond buckets (enough for p50 and p99 in the Plugin's status).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

const BUCKETS: usize = 40;

/// Counters, updated lock-free on the call path (but for error reasons).
pub struct CallStats {
    calls: AtomicU64,
    errors: AtomicU64,
    total_nanos: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
    reasons: Mutex<BTreeMap<&'static str, u64>>,
    denied: AtomicU64,
    warned: AtomicU64,
}

/// A snapshot of the counters, as the Plugin's status shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSnapshot {
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Failed calls by reason (`PluginTimeout`, ...).
    pub errors_by_reason: BTreeMap<String, u64>,
    /// Mean latency.
    pub mean_micros: u64,
    /// Latency at or below which half the calls finished (a power-of-two bound).
    pub p50_micros: u64,
    /// Likewise for 99%.
    pub p99_micros: u64,
    /// Admission: writes the plugin denied.
    #[serde(skip_serializing_if = "is_zero")]
    pub denied: u64,
    /// Admission: denials turned into warnings (`validationActions: [Warn]`).
    #[serde(skip_serializing_if = "is_zero")]
    pub warned: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for CallStats {
    fn default() -> Self {
        CallStats {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            total_nanos: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            reasons: Mutex::new(BTreeMap::new()),
            denied: AtomicU64::new(0),
            warned: AtomicU64::new(0),
        }
    }
}

impl CallStats {
    /// Counts one call.
    pub fn record(&self, elapsed: Duration, error: Option<&'static str>) {
        let micros = elapsed.as_micros() as u64;
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.total_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        let bucket = (64 - micros.leading_zeros() as usize).min(BUCKETS - 1);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        if let Some(reason) = error {
            self.errors.fetch_add(1, Ordering::Relaxed);
            *self
                .reasons
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(reason)
                .or_default() += 1;
        }
    }

    /// Counts an admission denial: enforced, or only warned about.
    pub fn record_denial(&self, warned: bool) {
        let counter = if warned { &self.warned } else { &self.denied };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The time spent in calls so far, all calls together.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.total_nanos.load(Ordering::Relaxed))
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let calls = self.calls.load(Ordering::Relaxed);
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let quantile = |q: f64| {
            let wanted = (calls as f64 * q).ceil() as u64;
            let mut seen = 0;
            for (bucket, count) in counts.iter().enumerate() {
                seen += count;
                if seen >= wanted && seen > 0 {
                    return if bucket == 0 { 0 } else { 1u64 << bucket };
                }
            }
            0
        };
        StatsSnapshot {
            calls,
            errors: self.errors.load(Ordering::Relaxed),
            errors_by_reason: self
                .reasons
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(r, n)| (r.to_string(), *n))
                .collect(),
            mean_micros: self
                .total_nanos
                .load(Ordering::Relaxed)
                .checked_div(calls)
                .unwrap_or(0)
                / 1000,
            p50_micros: quantile(0.5),
            p99_micros: quantile(0.99),
            denied: self.denied.load(Ordering::Relaxed),
            warned: self.warned.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_bound_the_recorded_latencies() {
        let stats = CallStats::default();
        for _ in 0..98 {
            stats.record(Duration::from_micros(10), None);
        }
        stats.record(Duration::from_micros(3000), Some("PluginTimeout"));
        stats.record(Duration::from_micros(3000), Some("PluginTimeout"));
        let s = stats.snapshot();
        assert_eq!((s.calls, s.errors), (100, 2));
        assert_eq!(s.errors_by_reason.get("PluginTimeout"), Some(&2));
        assert_eq!(s.p50_micros, 16, "10 us falls in the (8, 16] bucket");
        assert_eq!(s.p99_micros, 4096);
        assert_eq!(s.mean_micros, (98 * 10 + 6000) / 100);
        assert_eq!(stats.busy(), Duration::from_micros(98 * 10 + 6000));
    }
}
