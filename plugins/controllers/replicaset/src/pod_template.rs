//! The pod a ReplicaSet creates from its template: Kubernetes' `GetPodFromTemplate`.
//!
//! The pod gets the template's labels, annotations, finalizers and spec, a controller
//! reference to the ReplicaSet, and `generateName` `<replicaset name>-` (the name alone when
//! that prefix is too long to be a pod name prefix).

use keel_sdk::controller::objects;
use serde_json::{Map, Value, json};

use crate::claim::{API_VERSION, KIND};

/// The longest object name (a DNS subdomain).
const MAX_NAME_LENGTH: usize = 253;

/// The pod to create for `rs` from `template` (its `spec.template`).
pub fn pod_from_template(rs: &Value, template: &Value) -> Value {
    let mut metadata = Map::new();
    metadata.insert("generateName".into(), json!(name_prefix(objects::name(rs))));
    metadata.insert("namespace".into(), json!(objects::namespace(rs)));
    let labels = objects::labels(template);
    if !labels.is_empty() {
        metadata.insert("labels".into(), json!(labels));
    }
    let annotations = objects::annotations(template);
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), json!(annotations));
    }
    let finalizers = objects::finalizers(template);
    if !finalizers.is_empty() {
        metadata.insert("finalizers".into(), json!(finalizers));
    }
    metadata.insert(
        "ownerReferences".into(),
        json!([objects::controller_reference(API_VERSION, KIND, rs)]),
    );
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

/// `getPodsPrefix`: `<name>-`, or the name when that is not a valid name prefix.
fn name_prefix(name: &str) -> String {
    if name.len() < MAX_NAME_LENGTH {
        format!("{name}-")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GetPodFromTemplate: labels, annotations, finalizers and spec come from the template,
    /// with a controller reference and generateName `<rs>-`.
    #[test]
    fn the_pod_carries_the_template_and_a_controller_reference() {
        let rs = json!({"metadata": {"name": "web", "namespace": "prod", "uid": "u1"}});
        let template = json!({
            "metadata": {"labels": {"app": "web"}, "annotations": {"a": "1"},
                         "finalizers": ["example.com/keep"], "name": "ignored"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        });
        let pod = pod_from_template(&rs, &template);
        assert_eq!(
            pod,
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "generateName": "web-",
                    "namespace": "prod",
                    "labels": {"app": "web"},
                    "annotations": {"a": "1"},
                    "finalizers": ["example.com/keep"],
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": "web", "uid": "u1", "controller": true,
                        "blockOwnerDeletion": true}],
                },
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            })
        );
    }

    #[test]
    fn empty_template_parts_are_left_out() {
        let rs = json!({"metadata": {"name": "web", "namespace": "prod", "uid": "u1"}});
        let pod = pod_from_template(&rs, &json!({"metadata": {"labels": {"app": "web"}}}));
        assert_eq!(pod["spec"], json!({}));
        assert!(pod["metadata"].get("annotations").is_none());
        assert!(pod["metadata"].get("finalizers").is_none());
    }

    /// getPodsPrefix: a prefix that is not a valid name falls back to the name itself.
    #[test]
    fn a_name_too_long_for_a_prefix_is_used_as_is() {
        assert_eq!(name_prefix("web"), "web-");
        let long = "a".repeat(253);
        assert_eq!(name_prefix(&long), long);
        assert_eq!(name_prefix(&"a".repeat(252)).len(), 253);
    }
}
