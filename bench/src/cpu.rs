//! Where a benchmark's CPU time goes: this process's threads' user and system time, read
//! from `/proc/self/task`, summed by thread name, between two samples.

use std::collections::BTreeMap;
use std::time::Instant;

/// Clock ticks per second of `/proc`'s times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU ticks used so far by each of this process's threads, by thread id.
pub struct Sample {
    at: Instant,
    ticks: BTreeMap<u32, (String, u64)>,
}

impl Sample {
    /// Reads every thread's times now. Threads whose files cannot be read (they ended
    /// meanwhile) are left out.
    pub fn now() -> Sample {
        let mut ticks = BTreeMap::new();
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                if let Some(times) = std::fs::read_to_string(task.path().join("stat"))
                    .ok()
                    .as_deref()
                    .and_then(parse_stat)
                {
                    ticks.insert(tid, times);
                }
            }
        }
        Sample {
            at: Instant::now(),
            ticks,
        }
    }

    /// The CPU time used since `earlier`.
    pub fn since(&self, earlier: &Sample) -> Usage {
        let mut by_name = BTreeMap::<String, u64>::new();
        for (tid, (name, now)) in &self.ticks {
            let before = earlier.ticks.get(tid).map_or(0, |(_, t)| *t);
            *by_name.entry(name.clone()).or_default() += now.saturating_sub(before);
        }
        let mut used: Vec<(String, f64)> = by_name
            .into_iter()
            .filter(|(_, t)| *t > 0)
            .map(|(name, t)| (name, t as f64 / TICKS_PER_SECOND))
            .collect();
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        Usage {
            by_thread: used,
            wall_seconds: self.at.duration_since(earlier.at).as_secs_f64(),
        }
    }
}

/// CPU time used between two samples.
#[derive(Debug, Default)]
pub struct Usage {
    /// CPU seconds by thread name, busiest first.
    pub by_thread: Vec<(String, f64)>,
    /// Wall seconds between the samples.
    pub wall_seconds: f64,
}

impl Usage {
    /// CPU seconds of all threads together.
    pub fn total(&self) -> f64 {
        self.by_thread.iter().map(|(_, s)| s).sum()
    }

    /// The share of `cores` kept busy, in percent.
    pub fn busy_percent(&self, cores: usize) -> f64 {
        100.0 * self.total() / (self.wall_seconds * cores as f64).max(f64::EPSILON)
    }
}

/// A thread's name and its user plus system ticks, from its `stat` line:
/// `tid (name) state ...`, where utime and stime are the 14th and 15th fields.
fn parse_stat(line: &str) -> Option<(String, u64)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let name = line.get(open + 1..close)?.to_string();
    let mut fields = line.get(close + 2..)?.split(' ');
    // After the name: state is field 3, so utime (14) is the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((name, utime + stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_and_times_from_a_stat_line() {
        let line = "4242 (tokio-rt-worker) S 1 4242 4242 0 -1 4194560 10 0 0 0 37 5 0 0 20 0 9 0";
        assert_eq!(parse_stat(line), Some(("tokio-rt-worker".into(), 42)));
        // A name may hold spaces and parentheses.
        let line = "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some(("a (b) c".into(), 7)));
        assert_eq!(parse_stat("7 (x) R 1"), None);
    }

    #[test]
    fn this_thread_uses_cpu_between_samples() {
        let before = Sample::now();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 60 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = Sample::now().since(&before);
        assert!(used.wall_seconds >= 0.06);
        assert!(used.total() > 0.0, "{used:?}");
        assert!(used.busy_percent(1) > 0.0);
    }
}
