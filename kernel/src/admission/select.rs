//! Which admission plugins a write meets: a plugin's `rules` (operations, API groups,
//! resources and subresources; none means every write), its `namespaces` list, its
//! `namespaceSelector`, matched against the namespace's labels in the admission cache, and
//! its `namespaceHolds`, the kinds of which the namespace must hold an object in that cache.

use std::sync::Arc;

use crate::client::cache::ObjectCache;
use crate::object::ResourceType;
use crate::object::selector::LabelSelector;
use crate::plugin::{Plugin, PluginSpec};
use crate::registry::admission::Attempt;

/// The plugins of `plugins` (in chain order) that `attempt` meets.
pub fn matching(
    plugins: &[Arc<Plugin>],
    attempt: &Attempt<'_>,
    cache: &ObjectCache,
) -> Vec<Arc<Plugin>> {
    let namespaces = cache
        .kinds()
        .iter()
        .copied()
        .find(|k| k.kind == "Namespace" && k.group.is_empty());
    plugins
        .iter()
        .filter(|p| meets(p, attempt, cache, namespaces))
        .cloned()
        .collect()
}

fn meets(
    plugin: &Plugin,
    attempt: &Attempt<'_>,
    cache: &ObjectCache,
    namespaces: Option<&ResourceType>,
) -> bool {
    let spec = plugin.spec();
    let kind = attempt.kind;
    let covered = spec.rules.is_empty()
        || spec.rules.iter().any(|rule| {
            rule.matches(
                attempt.operation.as_str(),
                kind.group,
                kind.plural,
                attempt.subresource,
            )
        });
    if !covered {
        return false;
    }
    // A Namespace is matched by its own name and labels, as Kubernetes does.
    let namespace = if kind.kind == "Namespace" && kind.group.is_empty() {
        attempt.name
    } else {
        attempt.namespace
    };
    if namespace.is_empty() {
        return true;
    }
    if !spec.applies_to(namespace) || !holds_what_it_acts_on(spec, cache, namespace) {
        return false;
    }
    let Some(selector) = &spec.namespace_selector else {
        return true;
    };
    // The catalog refuses specs whose selector does not parse; an unparsable one here
    // matches nothing.
    let Ok(selector) = LabelSelector::from_object(selector) else {
        return false;
    };
    if selector.is_empty() {
        return true;
    }
    if kind.kind == "Namespace"
        && kind.group.is_empty()
        && let Some(object) = attempt.object.or(attempt.old_object)
    {
        return selector.matches(object);
    }
    namespaces.is_some_and(|kind| cache.matches(kind, "", namespace, &selector))
}

/// Whether `namespace` holds an object of a kind the plugin's `namespaceHolds` names (a kind
/// the cache does not hold counts as held), or it names none.
fn holds_what_it_acts_on(spec: &PluginSpec, cache: &ObjectCache, namespace: &str) -> bool {
    spec.namespace_holds.is_empty()
        || spec.namespace_holds.iter().any(|wanted| {
            cache
                .kind(&wanted.group, &wanted.kind)
                .is_none_or(|kind| cache.holds(kind, namespace))
        })
}
