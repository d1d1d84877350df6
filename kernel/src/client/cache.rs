//! A watch-backed cache of some kinds, in the manner of kube-runtime's reflector: one
//! [`Watcher`] per kind keeps a copy of its objects (one task drives them all), and the cache
//! knows the store revision it reflects, so a reader can wait until it holds every write
//! applied before some point ([`ObjectCache::wait_for`]) instead of reading the store.
//!
//! Readers get objects as JSON text: what plugins receive through the contract's `cache`
//! interface, which [`ObjectCache`] implements as a [`CacheView`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::watcher::LIST_RETRY;
use super::{WatchEvent, Watcher};
use crate::object::meta::meta_str;
use crate::object::selector::LabelSelector;
use crate::object::{ResourceType, list_prefix, object_key};
use crate::plugin::CacheView;
use crate::plugin::calls::ObjectRef;
use crate::registry::Objects;

/// What an observer of a cache is told after each change: the kind, the object as it was
/// (none: it is new) and as it is (none: it is gone). A relist reports what it changed.
pub type Observer =
    Arc<dyn Fn(&'static ResourceType, Option<&Value>, Option<&Value>) + Send + Sync>;

/// An object as it was and as it is (none: absent), for the observer.
type Change = (Option<Arc<Value>>, Option<Arc<Value>>);

/// One cached object: the object (the watch history's, shared), and its JSON text as plugins
/// read it, written the first time a plugin reads it (most cached objects change before any
/// plugin asks for them).
struct Entry {
    object: Arc<Value>,
    json: OnceLock<Arc<str>>,
}

impl Entry {
    fn new(object: Arc<Value>) -> Entry {
        Entry {
            object,
            json: OnceLock::new(),
        }
    }

    fn json(&self) -> Arc<str> {
        self.json
            .get_or_init(|| Arc::from(self.object.to_string()))
            .clone()
    }
}

/// A cache of some kinds, kept by watchers.
pub struct ObjectCache {
    kinds: Vec<&'static ResourceType>,
    /// By store key (`group/plural/namespace/name`), so one namespace is a key range.
    entries: RwLock<BTreeMap<String, Entry>>,
    /// Per kind, the store revision its watcher has brought the cache to.
    revisions: Vec<AtomicU64>,
    /// The revision the whole cache reflects (the least of `revisions`).
    progress: watch::Sender<u64>,
    /// Told of every change once it is in the cache.
    observer: Option<Observer>,
}

/// The cache did not catch up in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the object cache reflects revision {reached}, not yet {wanted}")]
pub struct Behind {
    /// The revision asked for.
    pub wanted: u64,
    /// The revision reached.
    pub reached: u64,
}

impl ObjectCache {
    /// Starts caching `kinds` from `objects`: one watcher task each.
    pub fn start(objects: &Objects, kinds: Vec<&'static ResourceType>) -> Arc<ObjectCache> {
        ObjectCache::start_observed(objects, kinds, None)
    }

    /// Starts caching `kinds`, telling `observer` of every change after it is applied
    /// (outside the cache's lock, so the observer may read the cache).
    pub fn start_observed(
        objects: &Objects,
        kinds: Vec<&'static ResourceType>,
        observer: Option<Observer>,
    ) -> Arc<ObjectCache> {
        let cache = Arc::new(ObjectCache {
            revisions: kinds.iter().map(|_| AtomicU64::new(0)).collect(),
            kinds,
            entries: RwLock::new(BTreeMap::new()),
            progress: watch::Sender::new(0),
            observer,
        });
        let watchers = cache
            .kinds
            .iter()
            .map(|kind| Watcher::new(objects.clone(), kind))
            .collect();
        let changes = objects.store().hub().subscribe();
        tokio::spawn(follow(Arc::downgrade(&cache), watchers, changes));
        cache
    }

    /// The kinds cached.
    pub fn kinds(&self) -> &[&'static ResourceType] {
        &self.kinds
    }

    /// The store revision the cache reflects: every write applied up to it is in.
    pub fn revision(&self) -> u64 {
        *self.progress.borrow()
    }

    /// The furthest revision any of the cache's watchers has reached. Watchers move
    /// independently, so an object of one kind may be newer than [`revision`](Self::revision);
    /// waiting for the frontier makes every kind at least as new as anything already read.
    pub fn frontier(&self) -> u64 {
        self.revisions
            .iter()
            .map(|r| r.load(Ordering::SeqCst))
            .max()
            .unwrap_or(0)
    }

    /// Waits until the cache reflects `revision`, for at most `timeout`.
    pub async fn wait_for(&self, revision: u64, timeout: Duration) -> Result<(), Behind> {
        let mut progress = self.progress.subscribe();
        let reached = tokio::time::timeout(timeout, progress.wait_for(|r| *r >= revision)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Behind {
                wanted: revision,
                reached: self.revision(),
            }),
        }
    }

    /// One object of `kind`, as JSON text.
    pub fn get(&self, kind: &ResourceType, namespace: &str, name: &str) -> Option<Arc<str>> {
        let namespace = if kind.namespaced { namespace } else { "" };
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&object_key(kind, namespace, name))
            .map(Entry::json)
    }

    /// Objects of `kind` in `namespace` (all namespaces when `None`) that `selector`
    /// matches, as JSON text, in key order.
    pub fn list(
        &self,
        kind: &ResourceType,
        namespace: Option<&str>,
        selector: &LabelSelector,
    ) -> Vec<Arc<str>> {
        let prefix = list_prefix(kind, namespace);
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .filter(|(_, e)| selector.matches(&e.object))
            .map(|(_, e)| e.json())
            .collect()
    }

    /// The names of the objects of `kind` in `namespace` (all namespaces when `None`), as
    /// (namespace, name), without copying or re-parsing the objects.
    pub fn names(&self, kind: &ResourceType, namespace: Option<&str>) -> Vec<(String, String)> {
        let prefix = list_prefix(kind, namespace);
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .map(|(_, e)| {
                let name = meta_str(&e.object, "name").unwrap_or_default();
                let ns = meta_str(&e.object, "namespace").unwrap_or_default();
                (ns.to_string(), name.to_string())
            })
            .collect()
    }

    /// Whether the cache holds any object of `kind` in `namespace`.
    pub fn holds(&self, kind: &ResourceType, namespace: &str) -> bool {
        let prefix = list_prefix(kind, Some(namespace));
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(key, _)| key.starts_with(&prefix))
    }

    /// One object of `kind`, parsed.
    pub fn object(&self, kind: &ResourceType, namespace: &str, name: &str) -> Option<Value> {
        let namespace = if kind.namespaced { namespace } else { "" };
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&object_key(kind, namespace, name))
            .map(|e| Value::clone(&e.object))
    }

    /// Whether a cached object exists and `selector` matches its labels.
    pub fn matches(
        &self,
        kind: &ResourceType,
        namespace: &str,
        name: &str,
        selector: &LabelSelector,
    ) -> bool {
        let namespace = if kind.namespaced { namespace } else { "" };
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&object_key(kind, namespace, name))
            .is_some_and(|e| selector.matches(&e.object))
    }

    /// The kind of that group and name, if the cache holds it.
    pub fn kind(&self, group: &str, kind: &str) -> Option<&'static ResourceType> {
        self.kinds
            .iter()
            .copied()
            .find(|k| k.group == group && k.kind == kind)
    }

    fn apply(&self, kind: &'static ResourceType, event: WatchEvent) {
        let key_of = |object: &Value| {
            let name = meta_str(object, "name").unwrap_or_default();
            let namespace = meta_str(object, "namespace").unwrap_or_default();
            object_key(kind, namespace, name)
        };
        let observed = self.observer.is_some();
        // (was, is) of each change, kept only when someone observes.
        let mut changes: Vec<Change> = Vec::new();
        {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            match event {
                WatchEvent::Restarted(objects) => {
                    let prefix = kind.store_prefix();
                    let mut old: BTreeMap<String, Entry> = BTreeMap::new();
                    let keys: Vec<String> = entries
                        .range(prefix.clone()..)
                        .take_while(|(key, _)| key.starts_with(&prefix))
                        .map(|(key, _)| key.clone())
                        .collect();
                    for key in keys {
                        if let Some(e) = entries.remove(&key) {
                            old.insert(key, e);
                        }
                    }
                    for object in objects {
                        let key = key_of(&object);
                        let was = old.remove(&key);
                        if observed {
                            let unchanged = was.as_ref().is_some_and(|w| w.object == object);
                            if !unchanged {
                                changes.push((was.map(|w| w.object), Some(object.clone())));
                            }
                        }
                        entries.insert(key, Entry::new(object));
                    }
                    if observed {
                        changes.extend(old.into_values().map(|gone| (Some(gone.object), None)));
                    }
                }
                WatchEvent::Applied(object) => {
                    let is = observed.then(|| object.clone());
                    let was = entries.insert(key_of(&object), Entry::new(object));
                    if observed {
                        changes.push((was.map(|w| w.object), is));
                    }
                }
                WatchEvent::Deleted(object) => {
                    let was = entries.remove(&key_of(&object));
                    if observed {
                        changes.push((Some(was.map_or(object, |w| w.object)), None));
                    }
                }
                WatchEvent::Bookmark(_) => {}
            }
        }
        if let Some(observer) = &self.observer {
            for (was, is) in &changes {
                observer(kind, was.as_deref(), is.as_deref());
            }
        }
    }

    fn advance(&self, slot: usize, revision: u64) {
        if let Some(r) = self.revisions.get(slot) {
            r.store(revision, Ordering::SeqCst);
        }
        // The least is taken under the progress signal's lock: of two watchers advancing at
        // once, the second to take it sees both stores (without it, each could read the
        // other's old revision and the cache would seem stuck until the next write).
        self.progress.send_if_modified(|reached| {
            let least = self
                .revisions
                .iter()
                .map(|r| r.load(Ordering::SeqCst))
                .min()
                .unwrap_or(revision);
            let moved = least > *reached;
            if moved {
                *reached = least;
            }
            moved
        });
    }
}

/// Keeps every kind of the cache up to date until the cache is dropped: one task for all
/// the kinds, woken once per store change (a task per kind would wake each of them for
/// every write). `watchers` are the kinds' watchers, by slot; `changes` the store's
/// revision signal.
async fn follow(
    cache: std::sync::Weak<ObjectCache>,
    mut watchers: Vec<Watcher>,
    mut changes: watch::Receiver<u64>,
) {
    loop {
        // Seen before reading: a write during the round wakes the next one.
        changes.borrow_and_update();
        let mut unlisted = false;
        {
            let Some(cache) = cache.upgrade() else {
                return;
            };
            for (slot, (watcher, &kind)) in watchers.iter_mut().zip(&cache.kinds).enumerate() {
                while let Some(event) = watcher.try_next() {
                    cache.apply(kind, event);
                }
                unlisted |= !watcher.listed();
                cache.advance(slot, watcher.revision());
            }
        }
        // A kind that could not be listed is tried again after a pause, or at the next write.
        let changed = match unlisted {
            true => tokio::time::timeout(LIST_RETRY, changes.changed())
                .await
                .unwrap_or(Ok(())),
            false => changes.changed().await,
        };
        if changed.is_err() {
            // The store is gone.
            return;
        }
    }
}

impl CacheView for ObjectCache {
    fn get(&self, key: &ObjectRef) -> Option<String> {
        let kind = self.kind(&key.group, &key.kind)?;
        ObjectCache::get(self, kind, &key.namespace, &key.name).map(|json| json.to_string())
    }

    fn list(&self, group: &str, kind: &str, namespace: &str, label_selector: &str) -> Vec<String> {
        let Some(kind) = self.kind(group, kind) else {
            return Vec::new();
        };
        let Ok(selector) = LabelSelector::parse(label_selector) else {
            return Vec::new();
        };
        let namespace = Some(namespace).filter(|ns| !ns.is_empty());
        ObjectCache::list(self, kind, namespace, &selector)
            .into_iter()
            .map(|json| json.to_string())
            .collect()
    }
}
