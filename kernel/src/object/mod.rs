//! The object model: which kinds exist, the rules their metadata follows,
//! selectors over them, and the patch formats that change them. Objects are
//! held as JSON (`serde_json::Value`); nothing here knows of storage or HTTP.

pub mod meta;
pub mod patch;
pub mod resource;
pub mod selector;

pub use resource::{Registry, ResourceType};

/// The store key of one object: `group/plural/namespace/name`
/// (namespace empty for cluster-scoped kinds).
pub fn object_key(rt: &ResourceType, namespace: &str, name: &str) -> String {
    format!("{}{}/{}", rt.store_prefix(), namespace, name)
}

/// The store prefix that holds one kind's objects, in one namespace or all.
pub fn list_prefix(rt: &ResourceType, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if rt.namespaced => format!("{}{}/", rt.store_prefix(), ns),
        _ => rt.store_prefix(),
    }
}
