//! A watcher over one kind: a list, then every change after it, in revision order.
//!
//! States (private): `Listing` (no revision yet: list and report `Restarted` with every
//! object) and `Following(revision)` (report each applied change after `revision`, waiting
//! on the store's revision signal when there is none). A revision older than the watch
//! history (the 410 a remote client would get) sends the watcher back to `Listing`.
//! [`Watcher::revision`] says how far the events returned so far reach, so a cache built on
//! a watcher knows which store revision it reflects.
//!
//! Objects come as `Arc<Value>`: the watch history's own, shared with every watcher and
//! the cache, never copied per reader.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::watch;

use crate::object::{ResourceType, list_prefix};
use crate::registry::{ListOptions, Objects};
use crate::watch::EventType;

/// Events read at once from the history.
const BATCH: usize = 512;

/// How long a watcher that could not list waits before listing again.
pub const LIST_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// What a watcher reports.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// The whole current set of objects (after a start or a relist): anything not in it is gone.
    Restarted(Vec<Arc<Value>>),
    /// An object was created or changed.
    Applied(Arc<Value>),
    /// An object was deleted (its last state).
    Deleted(Arc<Value>),
    /// Nothing of this kind changed up to this revision (other kinds did), as Kubernetes'
    /// BOOKMARK events say.
    Bookmark(u64),
}

enum State {
    Listing,
    Following(u64),
}

/// Follows one kind in all namespaces.
pub struct Watcher {
    objects: Objects,
    kind: &'static ResourceType,
    prefix: String,
    state: State,
    /// Events read but not yet returned, each with its revision.
    pending: VecDeque<(u64, WatchEvent)>,
    /// The revision the events returned so far reach.
    returned: u64,
    notify: watch::Receiver<u64>,
}

impl Watcher {
    /// A watcher over `kind`; its first event is `Restarted`.
    pub fn new(objects: Objects, kind: &'static ResourceType) -> Watcher {
        let notify = objects.store().hub().subscribe();
        Watcher {
            prefix: list_prefix(kind, None),
            objects,
            kind,
            state: State::Listing,
            pending: VecDeque::new(),
            returned: 0,
            notify,
        }
    }

    /// The store revision the events returned so far reflect: every change of the kind up
    /// to it has been returned.
    pub fn revision(&self) -> u64 {
        self.returned
    }

    /// Whether the watcher has listed its kind (and now follows it): false before the first
    /// list and after the history expired under it, until a list succeeds.
    pub fn listed(&self) -> bool {
        matches!(self.state, State::Following(_))
    }

    /// The next event. A failure to read the store is retried after a pause: the watcher
    /// never ends while the store is open.
    pub async fn next(&mut self) -> WatchEvent {
        loop {
            if let Some(event) = self.try_next() {
                return event;
            }
            match self.state {
                State::Listing => tokio::time::sleep(LIST_RETRY).await,
                State::Following(revision) => self.wait_past(revision).await,
            }
        }
    }

    /// The next event if there is one now, without waiting: `None` when nothing of the
    /// kind (and no other kind) changed since the last event, or when the kind could not be
    /// listed (the next call tries again; [`Watcher::listed`] tells the two apart).
    pub fn try_next(&mut self) -> Option<WatchEvent> {
        loop {
            if let Some((revision, event)) = self.pending.pop_front() {
                self.returned = revision;
                return Some(event);
            }
            match self.state {
                State::Listing => return self.list(),
                State::Following(revision) => {
                    if !self.read_after(revision) {
                        return None;
                    }
                }
            }
        }
    }

    /// Lists the kind: `Restarted` with every object, or `None` (logged) when the store
    /// cannot be read.
    fn list(&mut self) -> Option<WatchEvent> {
        match self.objects.list(self.kind, None, &ListOptions::default()) {
            Ok(list) => {
                self.state = State::Following(list.revision);
                self.returned = list.revision;
                Some(WatchEvent::Restarted(
                    list.items.into_iter().map(Arc::new).collect(),
                ))
            }
            Err(error) => {
                tracing::warn!(
                    kind = self.kind.kind,
                    "watcher cannot list: {error}; retrying"
                );
                None
            }
        }
    }

    /// Waits until the store's revision moves past `revision`.
    async fn wait_past(&mut self, revision: u64) {
        while *self.notify.borrow_and_update() <= revision {
            if self.notify.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Reads the history after `revision` into `pending`: false when there is nothing new.
    /// A revision the history no longer holds sends the watcher back to listing.
    fn read_after(&mut self, revision: u64) -> bool {
        let hub = self.objects.store().hub().clone();
        let events = match hub.events_after(revision, BATCH) {
            Ok(events) => events,
            Err(expired) => {
                tracing::info!(
                    kind = self.kind.kind,
                    revision,
                    oldest = expired.oldest,
                    "watch history expired; relisting"
                );
                self.state = State::Listing;
                return true;
            }
        };
        let Some(last) = events.last().map(|e| e.revision) else {
            return false;
        };
        for event in events.iter().filter(|e| e.key.starts_with(&self.prefix)) {
            let object = event.object.clone();
            self.pending.push_back((
                event.revision,
                match event.kind {
                    EventType::Added | EventType::Modified => WatchEvent::Applied(object),
                    EventType::Deleted => WatchEvent::Deleted(object),
                },
            ));
        }
        match self.pending.back_mut() {
            // The last event of the kind stands for the whole batch.
            Some((revision, _)) => *revision = last,
            None => self.pending.push_back((last, WatchEvent::Bookmark(last))),
        }
        self.state = State::Following(last);
        true
    }
}
