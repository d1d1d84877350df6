//! Sums per topology domain (a topology key and one of its values), built per call.

use std::collections::HashMap;

use crate::NodeEntry;

/// A sum per (topology key, value): matching pod counts for the filter, weights for the
/// score. Keys and values borrow from the terms and the node table.
#[derive(Default, Debug)]
pub struct TopologySums<'a> {
    by_key: HashMap<&'a str, HashMap<&'a str, i64>>,
}

impl<'a> TopologySums<'a> {
    /// Adds `delta` to the domain `node` is in for `key`; nothing if the node lacks the label.
    pub fn add(&mut self, node: &'a NodeEntry, key: &'a str, delta: i64) {
        if let Some(value) = node.labels.get(key) {
            *self
                .by_key
                .entry(key)
                .or_default()
                .entry(value.as_str())
                .or_default() += delta;
        }
    }

    /// Whether no domain was touched.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The sum for the domain `node` is in for `key`: None when the node lacks the label.
    pub fn for_node(&self, node: &NodeEntry, key: &str) -> Option<i64> {
        let value = node.labels.get(key)?;
        Some(
            self.by_key
                .get(key)
                .and_then(|values| values.get(value.as_str()))
                .copied()
                .unwrap_or(0),
        )
    }

    /// Whether any domain `node` is in (for any key) has a positive sum.
    pub fn any_positive(&self, node: &NodeEntry) -> bool {
        self.by_key.iter().any(|(key, values)| {
            node.labels
                .get(*key)
                .and_then(|value| values.get(value.as_str()))
                .is_some_and(|&sum| sum > 0)
        })
    }

    /// The sum over every key of the domains `node` is in.
    pub fn total(&self, node: &NodeEntry) -> i64 {
        self.by_key
            .iter()
            .filter_map(|(key, values)| values.get(node.labels.get(*key)?.as_str()))
            .sum()
    }
}
