//! The kubelet's restart back-off (CrashLoopBackOff): the first restart waits the initial
//! delay (10 s), each one after waits twice the last, up to the cap (5 min); a run that
//! lasted twice the cap without failing starts the count over.

use std::time::Duration;

/// Back-off settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(300),
        }
    }
}

/// One container's back-off.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    next: Option<Duration>,
}

impl Backoff {
    /// No restart yet.
    pub fn new(policy: BackoffPolicy) -> Backoff {
        Backoff { policy, next: None }
    }

    /// The delay before restarting a container whose last run lasted `ran`.
    pub fn delay_after(&mut self, ran: Duration) -> Duration {
        if ran >= self.policy.max * 2 {
            self.next = None;
        }
        let delay = self
            .next
            .unwrap_or(self.policy.initial)
            .min(self.policy.max);
        self.next = Some((delay * 2).min(self.policy.max));
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_a_long_run_resets_them() {
        let mut backoff = Backoff::new(BackoffPolicy::default());
        let short = Duration::from_secs(1);
        let delays: Vec<u64> = (0..7)
            .map(|_| backoff.delay_after(short).as_secs())
            .collect();
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff.delay_after(Duration::from_secs(600)).as_secs(), 10);
        assert_eq!(backoff.delay_after(short).as_secs(), 20);
    }
}
