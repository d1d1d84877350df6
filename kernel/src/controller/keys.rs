//! Which keys a change reconciles, from a controller's [`ControllerSpec`]: the object
//! itself when its kind is reconciled; the owners its `ownerReferences` name when its kind is
//! owned (and, for an orphan, every key in its namespace when the controller adopts); the
//! objects that name it as an owner when the controller asks for dependents (an index by
//! owner uid kept from the changes themselves).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError, Weak};

use serde_json::Value;

use super::queue::Key;
use crate::client::cache::ObjectCache;
use crate::object::meta::meta_str;
use crate::object::{Registry, ResourceType};
use crate::plugin::ControllerSpec;

/// The kinds of a controller's spec, resolved against the served kinds.
pub struct Kinds {
    /// Kinds whose objects are keys.
    pub reconciles: Vec<&'static ResourceType>,
    /// Kinds whose changes reconcile their owners.
    pub owns: Vec<&'static ResourceType>,
    /// Every kind cached (reconciled, owned and read).
    pub cached: Vec<&'static ResourceType>,
}

impl Kinds {
    /// Resolves `spec`'s kinds among `served`; answers the kinds that are not served too.
    pub fn resolve(spec: &ControllerSpec, served: &Registry) -> (Kinds, Vec<String>) {
        let mut missing = Vec::new();
        let mut find = |group: &str, kind: &str| {
            let found = served.by_group_kind(group, kind);
            if found.is_none() {
                missing.push(if group.is_empty() {
                    kind.to_string()
                } else {
                    format!("{kind}.{group}")
                });
            }
            found
        };
        let reconciles = spec
            .reconciles
            .iter()
            .filter_map(|k| find(&k.group, &k.kind))
            .collect();
        let owns = spec
            .owns
            .iter()
            .filter_map(|k| find(&k.group, &k.kind))
            .collect();
        let cached = spec
            .cached_kinds()
            .iter()
            .filter_map(|k| find(&k.group, &k.kind))
            .collect();
        missing.sort();
        missing.dedup();
        (
            Kinds {
                reconciles,
                owns,
                cached,
            },
            missing,
        )
    }
}

/// Maps changes to keys for one controller.
pub struct KeyMapper {
    kinds: Kinds,
    adopts_orphans: bool,
    enqueues_dependents: bool,
    /// The cache the changes come from (set once it is started), for adoption.
    cache: OnceLock<Weak<ObjectCache>>,
    /// Owner uid -> the objects naming it in their `ownerReferences`.
    dependents: Mutex<HashMap<String, BTreeSet<Key>>>,
}

impl KeyMapper {
    /// A mapper for `spec`'s resolved `kinds`.
    pub fn new(spec: &ControllerSpec, kinds: Kinds) -> KeyMapper {
        KeyMapper {
            kinds,
            adopts_orphans: spec.adopts_orphans,
            enqueues_dependents: spec.enqueues_dependents,
            cache: OnceLock::new(),
            dependents: Mutex::new(HashMap::new()),
        }
    }

    /// The resolved kinds.
    pub fn kinds(&self) -> &Kinds {
        &self.kinds
    }

    /// Gives the mapper the cache whose changes it maps.
    pub fn set_cache(&self, cache: Weak<ObjectCache>) {
        let _ = self.cache.set(cache);
    }

    /// The keys a change of a `kind` object from `was` to `is` reconciles.
    pub fn keys(
        &self,
        kind: &'static ResourceType,
        was: Option<&Value>,
        is: Option<&Value>,
    ) -> BTreeSet<Key> {
        let mut keys = BTreeSet::new();
        let Some(current) = is.or(was) else {
            return keys;
        };
        let reconciled = self.kinds.reconciles.iter().any(|k| std::ptr::eq(*k, kind));
        if reconciled {
            keys.insert(key_of(kind, current));
        }
        if self.kinds.owns.iter().any(|k| std::ptr::eq(*k, kind)) {
            for object in [was, is].into_iter().flatten() {
                keys.extend(self.owner_keys(object));
            }
            if let Some(is) = is
                && self.adopts_orphans
                && !has_controller(is)
            {
                keys.extend(self.namespace_keys(meta_str(is, "namespace").unwrap_or_default()));
            }
        }
        if self.enqueues_dependents {
            self.index(kind, was, is);
            if reconciled {
                let uid = meta_str(current, "uid").unwrap_or_default();
                let index = self
                    .dependents
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some(dependents) = index.get(uid) {
                    keys.extend(dependents.iter().cloned());
                }
            }
        }
        keys
    }

    /// Keeps the owner-uid index up to date with one change.
    fn index(&self, kind: &'static ResourceType, was: Option<&Value>, is: Option<&Value>) {
        let mut index = self
            .dependents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (object, present) in [(was, false), (is, true)] {
            let Some(object) = object else { continue };
            let key = key_of(kind, object);
            for owner in owner_uids(object) {
                if present {
                    index.entry(owner).or_default().insert(key.clone());
                } else if let Some(set) = index.get_mut(&owner) {
                    set.remove(&key);
                    if set.is_empty() {
                        index.remove(&owner);
                    }
                }
            }
        }
    }

    /// Keys of the reconciled objects `object`'s `ownerReferences` name.
    fn owner_keys(&self, object: &Value) -> Vec<Key> {
        let namespace = meta_str(object, "namespace").unwrap_or_default();
        let refs = object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array);
        refs.into_iter()
            .flatten()
            .filter_map(|r| {
                let kind = r.get("kind")?.as_str()?;
                let group = r
                    .get("apiVersion")?
                    .as_str()?
                    .split_once('/')
                    .map_or("", |(g, _)| g);
                let owner = self
                    .kinds
                    .reconciles
                    .iter()
                    .find(|k| k.group == group && k.kind == kind)?;
                Some(Key {
                    group: group.into(),
                    kind: kind.into(),
                    namespace: if owner.namespaced {
                        namespace.into()
                    } else {
                        String::new()
                    },
                    name: r.get("name")?.as_str()?.into(),
                })
            })
            .collect()
    }

    /// Keys of every reconciled object in `namespace` (every one, for cluster-scoped kinds).
    fn namespace_keys(&self, namespace: &str) -> Vec<Key> {
        let Some(cache) = self.cache.get().and_then(Weak::upgrade) else {
            return Vec::new();
        };
        let mut keys = Vec::new();
        for kind in &self.kinds.reconciles {
            let scope = kind.namespaced.then_some(namespace);
            keys.extend(
                cache
                    .names(kind, scope)
                    .into_iter()
                    .map(|(namespace, name)| Key {
                        group: kind.group.into(),
                        kind: kind.kind.into(),
                        namespace,
                        name,
                    }),
            );
        }
        keys
    }
}

/// The key of `object` of `kind`.
pub fn key_of(kind: &ResourceType, object: &Value) -> Key {
    Key {
        group: kind.group.into(),
        kind: kind.kind.into(),
        namespace: if kind.namespaced {
            meta_str(object, "namespace").unwrap_or_default().into()
        } else {
            String::new()
        },
        name: meta_str(object, "name").unwrap_or_default().into(),
    }
}

fn has_controller(object: &Value) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("controller") == Some(&Value::Bool(true)))
        })
}

fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| Some(r.get("uid")?.as_str()?.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::KindRef;
    use serde_json::json;

    fn kind(group: &str, kind: &str) -> KindRef {
        KindRef {
            group: group.into(),
            kind: kind.into(),
        }
    }

    fn mapper(spec: &ControllerSpec) -> KeyMapper {
        let (kinds, missing) = Kinds::resolve(spec, &Registry::default());
        assert!(missing.is_empty(), "{missing:?}");
        KeyMapper::new(spec, kinds)
    }

    fn served(group: &str, kind: &str) -> &'static ResourceType {
        Registry::default()
            .by_group_kind(group, kind)
            .unwrap_or_else(|| panic!("{kind} is served"))
    }

    #[test]
    fn an_owned_object_reconciles_its_owner_before_and_after_the_change() {
        let spec = ControllerSpec {
            reconciles: vec![kind("apps", "ReplicaSet")],
            owns: vec![kind("", "Pod")],
            ..ControllerSpec::default()
        };
        let mapper = mapper(&spec);
        let owned_by = |name: &str| {
            json!({"metadata": {"name": "p", "namespace": "ns", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": name, "controller": true}
            ]}})
        };
        let keys = mapper.keys(
            served("", "Pod"),
            Some(&owned_by("a")),
            Some(&owned_by("b")),
        );
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(
            keys.iter()
                .all(|k| k.kind == "ReplicaSet" && k.namespace == "ns")
        );
        let rs = json!({"metadata": {"name": "web", "namespace": "ns"}});
        let keys = mapper.keys(served("apps", "ReplicaSet"), None, Some(&rs));
        assert_eq!(
            keys.into_iter().map(|k| k.name).collect::<Vec<_>>(),
            ["web"]
        );
    }

    #[test]
    fn dependents_are_found_by_owner_uid() {
        let spec = ControllerSpec {
            reconciles: vec![kind("", "ConfigMap"), kind("", "Secret")],
            owns: vec![kind("", "ConfigMap"), kind("", "Secret")],
            enqueues_dependents: true,
            ..ControllerSpec::default()
        };
        let mapper = mapper(&spec);
        let owner = json!({"metadata": {"name": "owner", "namespace": "ns", "uid": "u1"}});
        let dependent = json!({"metadata": {"name": "dep", "namespace": "ns", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u1"}
        ]}});
        let keys = mapper.keys(served("", "Secret"), None, Some(&dependent));
        assert_eq!(keys.len(), 2, "itself and its owner: {keys:?}");
        let keys = mapper.keys(served("", "ConfigMap"), Some(&owner), None);
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            ["owner", "dep"],
            "the deleted owner (a ConfigMap) and its dependent (a Secret)"
        );
        mapper.keys(served("", "Secret"), Some(&dependent), None);
        let keys = mapper.keys(served("", "ConfigMap"), Some(&owner), None);
        assert_eq!(keys.len(), 1, "the dependent is gone from the index");
    }
}
