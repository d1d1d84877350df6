//! Whether the CPUs may sleep while a benchmark runs.
//!
//! A sequential latency benchmark leaves each core idle between requests. On a VM whose idle
//! loop halts at once (this machine's: the `haltpoll` cpuidle driver with
//! `guest_halt_poll_ns=0`), every idle spell exits to the hypervisor, and the next request
//! starts with a wake-up and with caches that other work on the host has cooled. Measured on
//! this machine (admission-bench), that is most of a request's latency: a dry-run create takes
//! 18 us at p50 with the cores held awake and about 50 us without, and the admission chain's
//! work after each wake-up takes three times as long.
//!
//! [`Awake`] holds the cores out of their idle states for as long as it lives, by the kernel's
//! PM QoS interface (a CPU latency request of 0 in `/dev/cpu_dma_latency`, the setting tuned's
//! `latency-performance` profile uses), so a benchmark can print its figures both ways.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// The kernel's CPU latency request: while a process holds it open with a value written,
/// no core enters an idle state whose exit latency is above that value (in microseconds).
const LATENCY_REQUEST: &str = "/dev/cpu_dma_latency";

/// The cores are held awake while this lives; dropping it closes the request, which the
/// kernel then withdraws.
pub struct Awake {
    _request: File,
}

impl Awake {
    /// Holds the cores awake, or says why it cannot (the device needs root).
    pub fn hold() -> Result<Awake, String> {
        let path = Path::new(LATENCY_REQUEST);
        let mut request = File::options()
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // The device takes a binary s32: the largest exit latency allowed, here none.
        request
            .write_all(&0i32.to_ne_bytes())
            .map_err(|e| format!("cannot write to {}: {e}", path.display()))?;
        Ok(Awake { _request: request })
    }
}

/// The largest idle-state exit latency the kernel now allows any core, in microseconds
/// (every process's requests taken together), or why it cannot be read.
pub fn latency_limit() -> Result<i32, String> {
    let path = Path::new(LATENCY_REQUEST);
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{} gave {} bytes, not 4", path.display(), bytes.len()))?;
    Ok(i32::from_ne_bytes(bytes))
}

/// How the cores idle during a run, as the benchmarks print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Idle {
    /// As the machine is configured (on this VM: halting at once).
    Sleep,
    /// Held out of their idle states ([`Awake`]).
    Awake,
}

impl Idle {
    /// The condition in words, for a benchmark's output.
    pub fn describe(self) -> &'static str {
        match self {
            Idle::Sleep => "cores idle as the machine is configured",
            Idle::Awake => "cores held awake (CPU latency request 0)",
        }
    }

    /// Holds the cores as this condition says, for as long as the guard lives.
    pub fn hold(self) -> Result<Option<Awake>, String> {
        match self {
            Idle::Sleep => Ok(None),
            Idle::Awake => Awake::hold().map(Some),
        }
    }
}

/// The machine's cpuidle driver and its idle states, for a benchmark's header
/// (`haltpoll: POLL, haltpoll idle`); `None` where sysfs does not say.
pub fn idle_states() -> Option<String> {
    let cpuidle = Path::new("/sys/devices/system/cpu");
    let driver = std::fs::read_to_string(cpuidle.join("cpuidle/current_driver")).ok()?;
    let mut states = Vec::new();
    for index in 0.. {
        let name = cpuidle.join(format!("cpu0/cpuidle/state{index}/name"));
        match std::fs::read_to_string(name) {
            Ok(name) => states.push(name.trim().to_string()),
            Err(_) => break,
        }
    }
    Some(format!("{}: {}", driver.trim(), states.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeping_holds_nothing_and_each_condition_says_what_it_is() {
        assert!(matches!(Idle::Sleep.hold(), Ok(None)));
        assert_ne!(Idle::Sleep.describe(), Idle::Awake.describe());
    }

    #[test]
    fn holding_the_cores_awake_either_holds_or_says_why_not() {
        match Awake::hold() {
            Ok(held) => {
                assert_eq!(
                    latency_limit(),
                    Ok(0),
                    "held awake, no idle latency is allowed"
                );
                drop(held);
            }
            Err(why) => assert!(why.contains(LATENCY_REQUEST), "{why}"),
        }
    }
}
