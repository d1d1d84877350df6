//! Where an owner's dependents are searched: every managed kind in the owner's namespace, or
//! in every namespace for a cluster-scoped owner. Listed once per reconcile, on first use.

use std::cell::OnceCell;

use keel_sdk::controller::View;
use keel_sdk::labels::Selector;

use crate::config::ManagedKind;
use crate::item::Item;

/// The managed objects that can depend on owners in one namespace (or anywhere).
pub struct Scope<'a> {
    view: &'a dyn View,
    kinds: &'a [ManagedKind],
    namespace: String,
    items: OnceCell<Vec<Item>>,
}

impl<'a> Scope<'a> {
    /// The objects of `kinds` in `namespace` ("" for every namespace), not listed yet.
    pub fn new(view: &'a dyn View, kinds: &'a [ManagedKind], namespace: &str) -> Scope<'a> {
        Scope {
            view,
            kinds,
            namespace: namespace.into(),
            items: OnceCell::new(),
        }
    }

    fn items(&self) -> &[Item] {
        self.items.get_or_init(|| {
            self.kinds
                .iter()
                .flat_map(|k| {
                    self.view
                        .list(&k.group, &k.kind, &self.namespace, &Selector::everything())
                        .into_iter()
                        .map(|object| Item::new(&k.group, &k.kind, object))
                })
                .collect()
        })
    }

    /// The objects with an owner reference to `owner_uid` (none for an empty uid).
    pub fn dependents_of(&self, owner_uid: &str) -> Vec<&Item> {
        if owner_uid.is_empty() {
            return Vec::new();
        }
        self.items()
            .iter()
            .filter(|item| item.is_owned_by(owner_uid))
            .collect()
    }
}
