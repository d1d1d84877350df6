//! The live version of one plugin, swapped atomically. A caller takes the current version
//! (an `Arc`) and calls it; a swap makes the next caller get the new version while calls
//! in flight finish on the old one, which is dropped when the last of them is done.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::instance::Plugin;
use super::stats::CallStats;

/// One plugin's current version and its counters (which outlive versions).
pub struct PluginSlot {
    current: ArcSwap<Plugin>,
    stats: Arc<CallStats>,
}

impl PluginSlot {
    /// A slot serving `plugin`, whose counters are `stats`.
    pub fn new(plugin: Plugin, stats: Arc<CallStats>) -> PluginSlot {
        PluginSlot {
            current: ArcSwap::from_pointee(plugin),
            stats,
        }
    }

    /// The version serving now.
    pub fn current(&self) -> Arc<Plugin> {
        self.current.load_full()
    }

    /// The version serving now if it is `wanted`; a version not wanted is looked at
    /// without taking a reference to it.
    pub fn current_if(&self, wanted: impl Fn(&Plugin) -> bool) -> Option<Arc<Plugin>> {
        let current = self.current.load();
        wanted(&current).then(|| arc_swap::Guard::into_inner(current))
    }

    /// Makes `next` the version serving, and returns the one it replaces.
    pub fn swap(&self, next: Plugin) -> Arc<Plugin> {
        self.current.swap(Arc::new(next))
    }

    /// The counters shared by every version in this slot.
    pub fn stats(&self) -> &Arc<CallStats> {
        &self.stats
    }
}
