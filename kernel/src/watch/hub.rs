//! The history ring and the "latest revision" signal watchers wait on.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use tokio::sync::watch;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One applied change.
#[derive(Debug, Clone)]
pub struct Event {
    /// The revision of the write.
    pub revision: u64,
    /// What happened.
    pub kind: EventType,
    /// The object's store key.
    pub key: String,
    /// The object after the write (for a delete, its last state stamped with
    /// the deletion revision).
    pub object: Arc<Value>,
    /// The object before the write, for updates and deletes.
    pub prev: Option<Arc<Value>>,
}

/// The asked-for revision is older than the history kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// The oldest revision a watch can resume from now.
    pub oldest: u64,
}

struct History {
    events: VecDeque<Arc<Event>>,
    capacity: usize,
    /// Every event with a revision above this one is in `events`.
    complete_after: u64,
}

/// The watch history and its notifier; one per store.
pub struct WatchHub {
    history: RwLock<History>,
    latest: watch::Sender<u64>,
}

impl WatchHub {
    /// A hub keeping `capacity` events, starting at `revision` (events at or
    /// below it are not known).
    pub fn new(capacity: usize, revision: u64) -> Self {
        let (latest, _) = watch::channel(revision);
        Self {
            history: RwLock::new(History {
                events: VecDeque::with_capacity(capacity.min(1 << 16)),
                capacity: capacity.max(1),
                complete_after: revision,
            }),
            latest,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, History> {
        self.history
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, History> {
        self.history
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records applied events (in revision order) and announces that the
    /// store has applied everything up to `revision`.
    pub fn publish(&self, events: Vec<Event>, revision: u64) {
        if !events.is_empty() {
            let mut h = self.write();
            for e in events {
                if h.events.len() == h.capacity
                    && let Some(old) = h.events.pop_front()
                {
                    h.complete_after = old.revision;
                }
                h.events.push_back(Arc::new(e));
            }
        }
        self.latest.send_if_modified(|cur| {
            let changed = revision > *cur;
            if changed {
                *cur = revision;
            }
            changed
        });
    }

    /// Forgets the history (after a snapshot replaced the state): watches
    /// must resume from `revision` or later.
    pub fn reset(&self, revision: u64) {
        {
            let mut h = self.write();
            h.events.clear();
            h.complete_after = revision;
        }
        self.latest.send_replace(revision);
    }

    /// Events with a revision above `after`, at most `max` of them.
    pub fn events_after(&self, after: u64, max: usize) -> Result<Vec<Arc<Event>>, Expired> {
        let h = self.read();
        if after < h.complete_after {
            return Err(Expired {
                oldest: h.complete_after,
            });
        }
        let start = h.events.partition_point(|e| e.revision <= after);
        Ok(h.events.iter().skip(start).take(max).cloned().collect())
    }

    /// The oldest revision a watch can resume from.
    pub fn oldest(&self) -> u64 {
        self.read().complete_after
    }

    /// The latest applied revision.
    pub fn latest(&self) -> u64 {
        *self.latest.borrow()
    }

    /// A receiver that changes whenever the applied revision grows.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(revision: u64) -> Event {
        Event {
            revision,
            kind: EventType::Added,
            key: format!("/configmaps/ns/c{revision}"),
            object: Arc::new(json!({})),
            prev: None,
        }
    }

    #[test]
    fn resumes_and_expires() {
        let hub = WatchHub::new(3, 10);
        assert_eq!(hub.events_after(9, 10).err(), Some(Expired { oldest: 10 }));
        hub.publish(vec![ev(11), ev(12)], 12);
        let revs = |v: Vec<Arc<Event>>| v.iter().map(|e| e.revision).collect::<Vec<_>>();
        assert_eq!(hub.events_after(10, 10).map(revs), Ok(vec![11, 12]));
        assert_eq!(hub.events_after(11, 10).map(revs), Ok(vec![12]));
        hub.publish(vec![ev(13), ev(15)], 15);
        // 11 fell out of the ring: resuming from 10 is too old, from 11 is fine.
        assert_eq!(hub.events_after(10, 10).err(), Some(Expired { oldest: 11 }));
        assert_eq!(hub.events_after(11, 10).map(revs), Ok(vec![12, 13, 15]));
        assert_eq!(hub.events_after(13, 1).map(revs), Ok(vec![15]));
        assert_eq!(hub.latest(), 15);
        hub.reset(20);
        assert_eq!(hub.events_after(15, 10).err(), Some(Expired { oldest: 20 }));
    }

    #[tokio::test]
    async fn subscribers_wake_on_publish() {
        let hub = Arc::new(WatchHub::new(8, 0));
        let mut rx = hub.subscribe();
        let h = hub.clone();
        tokio::spawn(async move { h.publish(vec![ev(1)], 1) });
        let woke = tokio::time::timeout(std::time::Duration::from_secs(5), rx.changed()).await;
        assert!(matches!(woke, Ok(Ok(()))));
        assert_eq!(*rx.borrow(), 1);
    }
}
