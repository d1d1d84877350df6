//! Pod templates: whether two are the same apart from the `pod-template-hash` label
//! (`deploymentutil.EqualIgnoreHash`, which is how the controller recognises the new
//! ReplicaSet, and how `kubectl rollout undo` to an old template brings that ReplicaSet
//! back), and a template with the hash label added.

use serde_json::{Map, Value, json};

use crate::hash::POD_TEMPLATE_HASH;

/// Whether `a` and `b` are equal once the hash label is removed from both. As with
/// Kubernetes' semantic equality, an absent field, a null one and an empty list or map
/// are the same.
pub fn equal_ignore_hash(a: &Value, b: &Value) -> bool {
    normalized(a) == normalized(b)
}

/// `template` with the label `pod-template-hash: hash`.
pub fn with_hash_label(template: &Value, hash: &str) -> Value {
    let mut template = template.clone();
    if !template.is_object() {
        template = json!({});
    }
    if let Some(root) = template.as_object_mut() {
        let metadata = root.entry("metadata").or_insert_with(|| json!({}));
        if !metadata.is_object() {
            *metadata = json!({});
        }
        if let Some(metadata) = metadata.as_object_mut() {
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if !labels.is_object() {
                *labels = json!({});
            }
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(POD_TEMPLATE_HASH.into(), json!(hash));
            }
        }
    }
    template
}

fn normalized(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(Value::Object(labels)) = template.pointer_mut("/metadata/labels") {
        labels.remove(POD_TEMPLATE_HASH);
    }
    prune(template).unwrap_or(Value::Null)
}

/// `value` without nulls, empty maps and empty lists (None when nothing is left).
fn prune(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let pruned: Map<String, Value> = map
                .into_iter()
                .filter_map(|(k, v)| Some((k, prune(v)?)))
                .collect();
            (!pruned.is_empty()).then_some(Value::Object(pruned))
        }
        Value::Array(items) => {
            // Items keep their places: an empty item inside a list still counts.
            let items: Vec<Value> = items
                .into_iter()
                .map(|item| prune(item).unwrap_or(Value::Null))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        scalar => Some(scalar),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(image: &str) -> Value {
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]},
        })
    }

    /// EqualIgnoreHash: the hash label does not count.
    #[test]
    fn the_hash_label_is_ignored_and_the_rest_counts() {
        let plain = template("nginx:1");
        let hashed = with_hash_label(&plain, "abc");
        assert_eq!(hashed["metadata"]["labels"]["pod-template-hash"], "abc");
        assert!(equal_ignore_hash(&plain, &hashed));
        assert!(!equal_ignore_hash(&plain, &template("nginx:2")));
        let mut relabelled = plain.clone();
        relabelled["metadata"]["labels"]["tier"] = json!("front");
        assert!(!equal_ignore_hash(&plain, &relabelled));
    }

    #[test]
    fn absent_null_and_empty_fields_are_the_same() {
        let mut a = template("nginx:1");
        a["metadata"]["creationTimestamp"] = Value::Null;
        a["spec"]["volumes"] = json!([]);
        a["metadata"]["annotations"] = json!({});
        assert!(equal_ignore_hash(&a, &template("nginx:1")));
        let no_labels = json!({"spec": {"containers": []}});
        assert!(equal_ignore_hash(
            &with_hash_label(&no_labels, "x"),
            &no_labels
        ));
    }
}
