//! The scheduling queue, in the manner of kube-scheduler's: an active queue ordered by
//! priority then age, a back-off queue for pods whose last attempt failed, and the
//! unschedulable pods, parked until the cluster changes in a way that could make them fit
//! (a node added or changed, a pod removed) or until they have waited
//! [`UNSCHEDULABLE_FLUSH`].
//!
//! Heaps hold `(order, key, stamp)`; an entry whose stamp no longer matches was moved or
//! removed since, and is skipped when popped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use super::pod::{PodInfo, PodKey};

/// The first back-off after a failed attempt; it doubles per attempt.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long an unschedulable pod waits for a cluster change before it is tried again.
pub const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Backoff(Instant),
    Unschedulable(Instant),
    /// Popped: being scheduled, or its binding is in flight.
    InFlight,
}

struct Entry {
    pod: PodInfo,
    state: State,
    attempts: u32,
    stamp: u64,
    /// The last failure message written for the pod (to write a new one only on change).
    last_message: Option<String>,
}

/// Active-queue order: higher priority, then older, then first queued.
type Rank = (i32, Reverse<String>, Reverse<u64>);

/// Pods waiting for a node.
#[derive(Default)]
pub struct Queue {
    entries: HashMap<PodKey, Entry>,
    active: BinaryHeap<(Rank, PodKey)>,
    backoff: BinaryHeap<Reverse<(Instant, u64, PodKey)>>,
    next_stamp: u64,
    /// How many pods are parked as unschedulable.
    parked: usize,
    /// When parked pods were last looked at for [`UNSCHEDULABLE_FLUSH`].
    flush_scanned: Option<Instant>,
}

impl Queue {
    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    fn activate(&mut self, key: &PodKey) {
        let stamp = self.stamp();
        self.set_state(key, State::Active);
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        entry.stamp = stamp;
        let rank = (
            entry.pod.priority,
            Reverse(entry.pod.created.clone()),
            Reverse(stamp),
        );
        self.active.push((rank, key.clone()));
    }

    fn back_off(&mut self, key: &PodKey, until: Instant) {
        let stamp = self.stamp();
        self.set_state(key, State::Backoff(until));
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        entry.stamp = stamp;
        self.backoff.push(Reverse((until, stamp, key.clone())));
    }

    /// Adds a pod that needs a node, or updates one already queued. An update to a pod
    /// parked as unschedulable may make it fit: it is tried again.
    pub fn upsert(&mut self, pod: PodInfo) {
        let key = pod.key.clone();
        match self.entries.get_mut(&key) {
            Some(entry) if entry.pod.uid == pod.uid => {
                let parked = matches!(entry.state, State::Unschedulable(_));
                entry.pod = pod;
                if parked {
                    self.activate(&key);
                }
            }
            _ => {
                self.entries.insert(
                    key.clone(),
                    Entry {
                        pod,
                        state: State::Active,
                        attempts: 0,
                        stamp: 0,
                        last_message: None,
                    },
                );
                self.activate(&key);
            }
        }
    }

    /// Forgets a pod (bound, deleted, or no longer the scheduler's).
    pub fn remove(&mut self, key: &PodKey) -> Option<PodInfo> {
        self.set_state(key, State::InFlight);
        self.entries.remove(key).map(|e| e.pod)
    }

    /// Whether the pod is being scheduled or bound.
    pub fn in_flight(&self, key: &PodKey) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.state == State::InFlight)
    }

    /// The next pod to schedule, moving pods whose back-off or parking is over to the
    /// active queue first; it stays known, in flight, until [`Queue::remove`] or a failure.
    pub fn pop(&mut self, now: Instant) -> Option<PodInfo> {
        self.release_due(now);
        while let Some((_, key)) = self.active.pop() {
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            if entry.state != State::Active {
                continue;
            }
            entry.state = State::InFlight;
            entry.attempts += 1;
            return Some(entry.pod.clone());
        }
        None
    }

    fn release_due(&mut self, now: Instant) {
        while let Some(Reverse((until, stamp, _))) = self.backoff.peek() {
            if *until > now {
                break;
            }
            let (stamp, Some(Reverse((_, _, key)))) = (*stamp, self.backoff.pop()) else {
                break;
            };
            if self.entries.get(&key).is_some_and(|e| e.stamp == stamp) {
                self.activate(&key);
            }
        }
        // Parked pods are few and their flush is coarse: look at them once a second.
        if self.parked == 0
            || self
                .flush_scanned
                .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.flush_scanned = Some(now);
        let due: Vec<PodKey> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.state, State::Unschedulable(since) if now.duration_since(since) >= UNSCHEDULABLE_FLUSH))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.activate(&key);
        }
    }

    /// Sets an entry's state, keeping the parked count.
    fn set_state(&mut self, key: &PodKey, state: State) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let was = matches!(entry.state, State::Unschedulable(_));
        let is = matches!(state, State::Unschedulable(_));
        entry.state = state;
        match (was, is) {
            (false, true) => self.parked += 1,
            (true, false) => self.parked -= 1,
            _ => {}
        }
    }

    /// The pod's attempt failed: it found no node (`unschedulable`, parked until the
    /// cluster changes), or an error or lost bind (backed off).
    pub fn failed(&mut self, key: &PodKey, unschedulable: bool, now: Instant) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        if unschedulable {
            entry.stamp = 0;
            self.set_state(key, State::Unschedulable(now));
        } else {
            let until = now + backoff(entry.attempts);
            self.back_off(key, until);
        }
    }

    /// The cluster changed in a way that could make parked pods fit: each goes back to
    /// the active queue, or to back-off while its back-off lasts.
    pub fn cluster_changed(&mut self, now: Instant) {
        if self.parked == 0 {
            return;
        }
        let parked: Vec<(PodKey, Instant, u32)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| match e.state {
                State::Unschedulable(since) => Some((k.clone(), since, e.attempts)),
                _ => None,
            })
            .collect();
        for (key, since, attempts) in parked {
            let until = since + backoff(attempts);
            if until > now {
                self.back_off(&key, until);
            } else {
                self.activate(&key);
            }
        }
    }

    /// When the next backed-off or parked pod is due.
    pub fn next_due(&self) -> Option<Instant> {
        let backoff = self.backoff.peek().map(|Reverse((until, _, _))| *until);
        let parked = self
            .entries
            .values()
            .filter_map(|e| match e.state {
                State::Unschedulable(since) => Some(since + UNSCHEDULABLE_FLUSH),
                _ => None,
            })
            .min();
        backoff.into_iter().chain(parked).min()
    }

    /// Records `message` as the pod's latest failure; answers whether it differs from the
    /// last one (and so is worth writing).
    pub fn note_failure(&mut self, key: &PodKey, message: &str) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        if entry.last_message.as_deref() == Some(message) {
            return false;
        }
        entry.last_message = Some(message.to_string());
        true
    }

    /// Every pod queued.
    pub fn keys(&self) -> Vec<PodKey> {
        self.entries.keys().cloned().collect()
    }

    /// How many pods are queued (in any state).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The back-off after `attempts` failed attempts: 1 s, 2 s, 4 s, ... up to 10 s.
fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (INITIAL_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, priority: i32, created: &str) -> PodInfo {
        PodInfo::from_object(&json!({
            "metadata": {"namespace": "d", "name": name, "uid": name, "creationTimestamp": created},
            "spec": {"priority": priority},
        }))
        .expect("named")
    }

    #[test]
    fn pods_leave_by_priority_then_age() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.upsert(pod("old-low", 0, "2026-01-01T00:00:00Z"));
        q.upsert(pod("new-high", 10, "2026-01-02T00:00:00Z"));
        q.upsert(pod("new-low", 0, "2026-01-02T00:00:00Z"));
        let order: Vec<String> = std::iter::from_fn(|| q.pop(now).map(|p| p.key.name)).collect();
        assert_eq!(order, ["new-high", "old-low", "new-low"]);
        assert_eq!(q.len(), 3, "popped pods stay known while in flight");
    }

    #[test]
    fn failures_back_off_and_unschedulable_pods_wait_for_a_change() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.upsert(pod("a", 0, "t"));
        q.upsert(pod("b", 0, "t"));
        let a = q.pop(now).expect("a");
        let b = q.pop(now).expect("b");
        q.failed(&a.key, false, now);
        q.failed(&b.key, true, now);
        assert!(q.pop(now).is_none(), "a backs off, b is parked");
        assert_eq!(q.next_due(), Some(now + INITIAL_BACKOFF));
        assert_eq!(
            q.pop(now + INITIAL_BACKOFF).map(|p| p.key.name),
            Some("a".into())
        );
        // A cluster change after b's back-off releases it at once.
        q.cluster_changed(now + Duration::from_secs(5));
        assert_eq!(
            q.pop(now + Duration::from_secs(5)).map(|p| p.key.name),
            Some("b".into())
        );
        assert_eq!(backoff(1), INITIAL_BACKOFF);
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(30), MAX_BACKOFF);
        assert!(q.note_failure(&a.key, "m"));
        assert!(
            !q.note_failure(&a.key, "m"),
            "the same message is not written twice"
        );
    }
}
