//! A [`View`] for native tests of a controller's logic: a fixed set of objects and a
//! clock the test sets.

use serde_json::Value;

use super::View;
use super::objects;
use crate::labels::Selector;

/// Objects held by (group, kind), and the time.
#[derive(Debug, Clone, Default)]
pub struct FakeView {
    objects: Vec<(String, String, Value)>,
    now_millis: u64,
}

impl FakeView {
    /// An empty view at time zero.
    pub fn new() -> FakeView {
        FakeView::default()
    }

    /// The view at `now_millis`.
    pub fn at(mut self, now_millis: u64) -> FakeView {
        self.now_millis = now_millis;
        self
    }

    /// The view holding `object` of `group`/`kind` too (replacing one of the same name).
    pub fn with(mut self, group: &str, kind: &str, object: Value) -> FakeView {
        self.put(group, kind, object);
        self
    }

    /// Adds or replaces `object` of `group`/`kind`.
    pub fn put(&mut self, group: &str, kind: &str, object: Value) {
        self.remove(
            group,
            kind,
            objects::namespace(&object),
            objects::name(&object),
        );
        self.objects.push((group.into(), kind.into(), object));
    }

    /// Removes the object of `group`/`kind` named `namespace/name`.
    pub fn remove(&mut self, group: &str, kind: &str, namespace: &str, name: &str) {
        self.objects.retain(|(g, k, o)| {
            !(g == group
                && k == kind
                && objects::namespace(o) == namespace
                && objects::name(o) == name)
        });
    }
}

impl View for FakeView {
    fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .iter()
            .find(|(g, k, o)| {
                g == group
                    && k == kind
                    && objects::namespace(o) == namespace
                    && objects::name(o) == name
            })
            .map(|(_, _, o)| o.clone())
    }

    fn list(&self, group: &str, kind: &str, namespace: &str, selector: &Selector) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(g, k, o)| {
                g == group
                    && k == kind
                    && (namespace.is_empty() || objects::namespace(o) == namespace)
                    && selector.matches(&objects::labels(o))
            })
            .map(|(_, _, o)| o.clone())
            .collect()
    }

    fn now_millis(&self) -> u64 {
        self.now_millis
    }
}
