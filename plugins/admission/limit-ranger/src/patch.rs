//! RFC 6902 JSON Patch operations: `add` operations and RFC 6901 JSON Pointer escaping,
//! creating a missing parent object instead of adding under it.

use serde_json::{Map, Value, json};

/// One path segment escaped for a JSON Pointer: `~` → `~0`, `/` → `~1`
/// (`example.com/gpu` → `example.com~1gpu`).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// An `add` operation.
pub fn add(path: &str, value: Value) -> Value {
    json!({"op": "add", "path": path, "value": value})
}

/// Operations adding `entries` to the object at `parent` (a JSON Pointer), under its member
/// `field`: one operation per entry when `existing` (the parent as written) already holds
/// `field` as an object, otherwise one adding `field` whole.
pub fn add_entries(
    ops: &mut Vec<Value>,
    parent: &str,
    existing: Option<&Value>,
    field: &str,
    entries: Map<String, Value>,
) {
    if entries.is_empty() {
        return;
    }
    let path = format!("{parent}/{}", escape(field));
    if existing
        .and_then(|p| p.get(field))
        .is_some_and(Value::is_object)
    {
        for (key, value) in entries {
            ops.push(add(&format!("{path}/{}", escape(&key)), value));
        }
    } else {
        ops.push(add(&path, Value::Object(entries)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect()
    }

    #[test]
    fn escapes_slash_and_tilde() {
        assert_eq!(escape("example.com/gpu"), "example.com~1gpu");
        assert_eq!(escape("a~b/c"), "a~0b~1c");
        assert_eq!(escape("cpu"), "cpu");
    }

    #[test]
    fn adds_a_missing_field_whole_and_an_existing_one_by_key() {
        let mut ops = Vec::new();
        add_entries(&mut ops, "/r", None, "limits", entries(&[("cpu", "1")]));
        let existing = json!({"limits": {"memory": "1Gi"}});
        add_entries(
            &mut ops,
            "/r",
            Some(&existing),
            "limits",
            entries(&[("example.com/gpu", "1")]),
        );
        add_entries(&mut ops, "/r", Some(&existing), "requests", Map::new());
        assert_eq!(
            Value::Array(ops),
            json!([
                {"op": "add", "path": "/r/limits", "value": {"cpu": "1"}},
                {"op": "add", "path": "/r/limits/example.com~1gpu", "value": "1"}
            ])
        );
    }
}
