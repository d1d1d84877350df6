//! The work queue of one controller, in the manner of client-go's rate-limited queue: a
//! key is queued at most once; a key added while it is being reconciled is queued again
//! when that reconcile is done (so no key is handled twice at once); failures are retried
//! after a per-key exponential back-off (5 ms doubling up to 1000 s, client-go's default),
//! and `add_after` delays a key.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// A reconcile key: one object, by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// API group ("" for the core group).
    pub group: String,
    /// Kind name.
    pub kind: String,
    /// Namespace ("" for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// The first retry's delay.
const BASE_DELAY: Duration = Duration::from_millis(5);
/// The longest retry delay.
const MAX_DELAY: Duration = Duration::from_secs(1000);

#[derive(Default)]
struct Inner {
    ready: VecDeque<Key>,
    queued: HashSet<Key>,
    processing: HashSet<Key>,
    /// Added while being processed: queued again when done.
    dirty: HashSet<Key>,
    /// Due time, insertion sequence, key.
    delayed: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    /// The earliest due time of each delayed key: a later `add_after` of a key already
    /// waiting changes nothing, an earlier one supersedes the entry in `delayed`.
    due: HashMap<Key, Instant>,
    sequence: u64,
    failures: HashMap<Key, u32>,
}

/// The queue.
#[derive(Default)]
pub struct WorkQueue {
    inner: Mutex<Inner>,
    wake: Notify,
}

impl WorkQueue {
    /// An empty queue.
    pub fn new() -> WorkQueue {
        WorkQueue::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `key` unless it is queued; a key being processed is queued again when done.
    pub fn add(&self, key: Key) {
        let mut inner = self.lock();
        if inner.processing.contains(&key) {
            inner.dirty.insert(key);
            return;
        }
        if inner.queued.insert(key.clone()) {
            inner.ready.push_back(key);
            drop(inner);
            self.wake.notify_one();
        }
    }

    /// Queues `key` after `delay`.
    pub fn add_after(&self, key: Key, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let due = Instant::now() + delay;
        let mut inner = self.lock();
        if inner.due.get(&key).is_some_and(|earlier| *earlier <= due) {
            return;
        }
        inner.due.insert(key.clone(), due);
        inner.sequence += 1;
        let sequence = inner.sequence;
        inner.delayed.push(Reverse((due, sequence, key)));
        drop(inner);
        self.wake.notify_one();
    }

    /// Queues `key` after its back-off, which doubles with each failure since it was last
    /// [`forget`](Self::forget)-ten; answers the delay.
    pub fn add_rate_limited(&self, key: Key) -> Duration {
        let failures = {
            let mut inner = self.lock();
            let failures = inner.failures.entry(key.clone()).or_insert(0);
            let now = *failures;
            *failures = failures.saturating_add(1);
            now
        };
        let delay = BASE_DELAY
            .checked_mul(1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(MAX_DELAY)
            .min(MAX_DELAY);
        self.add_after(key, delay);
        delay
    }

    /// Clears `key`'s failures: its next back-off starts again at the base delay.
    pub fn forget(&self, key: &Key) {
        self.lock().failures.remove(key);
    }

    /// Failures counted for `key` since it was last forgotten.
    pub fn failures(&self, key: &Key) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Keys queued or delayed, not counting those being processed.
    pub fn waiting(&self) -> usize {
        let inner = self.lock();
        inner.ready.len() + inner.due.len()
    }

    /// Whether nothing is queued, delayed or being processed.
    pub fn is_idle(&self) -> bool {
        let inner = self.lock();
        inner.ready.is_empty() && inner.due.is_empty() && inner.processing.is_empty()
    }

    /// The next key to process (marked as being processed until [`done`](Self::done)).
    pub async fn next(&self) -> Key {
        loop {
            let notified = self.wake.notified();
            let wait = {
                let mut inner = self.lock();
                let now = Instant::now();
                while inner
                    .delayed
                    .peek()
                    .is_some_and(|Reverse((due, _, _))| *due <= now)
                {
                    if let Some(Reverse((due, _, key))) = inner.delayed.pop() {
                        if inner.due.get(&key) != Some(&due) {
                            continue; // superseded by an earlier entry
                        }
                        inner.due.remove(&key);
                        if inner.processing.contains(&key) {
                            inner.dirty.insert(key);
                        } else if inner.queued.insert(key.clone()) {
                            inner.ready.push_back(key);
                        }
                    }
                }
                if let Some(key) = inner.ready.pop_front() {
                    inner.queued.remove(&key);
                    inner.processing.insert(key.clone());
                    return key;
                }
                inner.delayed.peek().map(|Reverse((due, _, _))| *due)
            };
            match wait {
                Some(due) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(due) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` processed; queues it again if it was added meanwhile.
    pub fn done(&self, key: &Key) {
        let mut inner = self.lock();
        inner.processing.remove(key);
        if inner.dirty.remove(key) && inner.queued.insert(key.clone()) {
            inner.ready.push_back(key.clone());
            drop(inner);
            self.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key {
            group: "apps".into(),
            kind: "ReplicaSet".into(),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn a_key_is_queued_once_and_comes_out_in_order() {
        let queue = WorkQueue::new();
        queue.add(key("a"));
        queue.add(key("b"));
        queue.add(key("a"));
        assert_eq!(queue.waiting(), 2);
        assert_eq!(queue.next().await, key("a"));
        assert_eq!(queue.next().await, key("b"));
        assert_eq!(queue.waiting(), 0);
    }

    #[tokio::test]
    async fn a_key_added_while_processed_comes_back_only_when_done() {
        let queue = WorkQueue::new();
        queue.add(key("a"));
        let a = queue.next().await;
        queue.add(key("a"));
        assert_eq!(queue.waiting(), 0, "not handed out twice at once");
        queue.done(&a);
        assert_eq!(queue.waiting(), 1);
        assert_eq!(queue.next().await, key("a"));
    }

    #[tokio::test]
    async fn delayed_and_rate_limited_keys_wait() {
        let queue = WorkQueue::new();
        queue.add_after(key("later"), Duration::from_millis(300));
        queue.add_after(key("later"), Duration::from_secs(60));
        assert_eq!(
            queue.add_rate_limited(key("failed")),
            Duration::from_millis(5)
        );
        assert_eq!(
            queue.add_rate_limited(key("failed")),
            Duration::from_millis(10)
        );
        assert_eq!(queue.failures(&key("failed")), 2);
        let start = Instant::now();
        assert_eq!(queue.next().await, key("failed"));
        assert!(start.elapsed() >= Duration::from_millis(5));
        queue.done(&key("failed"));
        assert_eq!(queue.next().await, key("later"));
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(60),
            "a later add_after of a waiting key changes nothing: {waited:?}"
        );
        queue.forget(&key("failed"));
        assert_eq!(queue.failures(&key("failed")), 0);
    }
}
