//! The two finalizers the collector acts on, and removing one from an object.

use keel_sdk::json::At;
use serde_json::Value;

/// Set by a delete with `propagationPolicy=Orphan`: dependents lose their reference first.
pub const ORPHAN: &str = "orphan";

/// Set by a delete with `propagationPolicy=Foreground`: blocking dependents go first.
pub const FOREGROUND_DELETION: &str = "foregroundDeletion";

/// Whether `object` carries `finalizer`.
pub fn has(object: &Value, finalizer: &str) -> bool {
    object
        .at("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|f| f.as_str() == Some(finalizer)))
}

/// `object` without `finalizer` (other finalizers kept, in order).
pub fn without(mut object: Value, finalizer: &str) -> Value {
    if let Some(Value::Array(list)) = object.pointer_mut("/metadata/finalizers") {
        list.retain(|f| f.as_str() != Some(finalizer));
    }
    object
}
