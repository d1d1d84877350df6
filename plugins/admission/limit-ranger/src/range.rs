//! LimitRange objects, as the plugin uses them: each item's type and its `min`, `max`,
//! `default`, `defaultRequest` and `maxLimitRequestRatio`, with the defaults Kubernetes'
//! API server fills into a `Container` item when the LimitRange is stored (Keel stores it
//! as written, so the plugin applies them when reading).

use keel_sdk::json::At;
use serde_json::Value;

use crate::amount::{ResourceList, resource_list};

/// What an item constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitType {
    /// Each container and init container of a pod.
    Container,
    /// A pod as a whole (sums over its containers).
    Pod,
    /// A PersistentVolumeClaim's storage request.
    PersistentVolumeClaim,
}

impl LimitType {
    /// The type's name, as items spell it and messages print it.
    pub fn name(self) -> &'static str {
        match self {
            LimitType::Container => "Container",
            LimitType::Pod => "Pod",
            LimitType::PersistentVolumeClaim => "PersistentVolumeClaim",
        }
    }
}

/// One entry of a LimitRange's `spec.limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What the item constrains.
    pub kind: LimitType,
    /// Least request (and limit, when set) allowed.
    pub min: ResourceList,
    /// Greatest limit (and request, when set) allowed.
    pub max: ResourceList,
    /// Limits given to containers that set none.
    pub default: ResourceList,
    /// Requests given to containers that set none.
    pub default_request: ResourceList,
    /// Greatest limit / request ratio allowed.
    pub max_limit_request_ratio: ResourceList,
}

impl Item {
    /// Reads one item; `None` for an item of a type this plugin does not know.
    pub fn read(item: &Value) -> Option<Item> {
        let kind = match item.get("type").and_then(Value::as_str)? {
            "Container" => LimitType::Container,
            "Pod" => LimitType::Pod,
            "PersistentVolumeClaim" => LimitType::PersistentVolumeClaim,
            _ => return None,
        };
        let mut item = Item {
            kind,
            min: resource_list(item.get("min")),
            max: resource_list(item.get("max")),
            default: resource_list(item.get("default")),
            default_request: resource_list(item.get("defaultRequest")),
            max_limit_request_ratio: resource_list(item.get("maxLimitRequestRatio")),
        };
        if kind == LimitType::Container {
            item.fill_defaults();
        }
        Some(item)
    }

    /// Kubernetes' `SetDefaults_LimitRangeItem` for a `Container` item: a missing default
    /// limit is the max; a missing default request is the default limit, else the min.
    fn fill_defaults(&mut self) {
        for (name, max) in &self.max {
            self.default
                .entry(name.clone())
                .or_insert_with(|| max.clone());
        }
        for (name, limit) in &self.default {
            self.default_request
                .entry(name.clone())
                .or_insert_with(|| limit.clone());
        }
        for (name, min) in &self.min {
            self.default_request
                .entry(name.clone())
                .or_insert_with(|| min.clone());
        }
    }
}

/// The items of one LimitRange object (`spec.limits`), in order.
pub fn items(limit_range: &Value) -> Vec<Item> {
    limit_range
        .at("/spec/limits")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Item::read).collect())
        .unwrap_or_default()
}

/// The default limits and requests one LimitRange gives containers: its `Container`
/// items' defaults merged, a later item's value replacing an earlier one's (as Kubernetes'
/// `defaultContainerResourceRequirements` does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDefaults {
    /// Default limits.
    pub limits: ResourceList,
    /// Default requests.
    pub requests: ResourceList,
}

impl ContainerDefaults {
    /// The container defaults of one LimitRange's items.
    pub fn of(items: &[Item]) -> ContainerDefaults {
        let mut defaults = ContainerDefaults::default();
        for item in items.iter().filter(|i| i.kind == LimitType::Container) {
            defaults.limits.extend(item.default.clone());
            defaults.requests.extend(item.default_request.clone());
        }
        defaults
    }

    /// Whether there is nothing to default.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.requests.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn texts(list: &ResourceList) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.clone(), v.text.clone()))
            .collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_items_of_known_types_only() {
        let range = json!({"spec": {"limits": [
            {"type": "Container", "min": {"cpu": "100m"}},
            {"type": "Pod", "max": {"cpu": "2"}},
            {"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}},
            {"type": "openshift.io/Image", "max": {"storage": "1Gi"}},
            {"max": {"cpu": "1"}}
        ]}});
        let items = items(&range);
        let kinds: Vec<LimitType> = items.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [
                LimitType::Container,
                LimitType::Pod,
                LimitType::PersistentVolumeClaim
            ]
        );
        assert!(super::items(&json!({"spec": {}})).is_empty());
    }

    /// SetDefaults_LimitRangeItem: default ← max, defaultRequest ← default, then ← min.
    #[test]
    fn container_items_get_kubernetes_api_defaults() {
        let Some(item) = Item::read(&json!({"type": "Container",
            "max": {"cpu": "2", "memory": "1Gi"},
            "default": {"cpu": "500m"},
            "defaultRequest": {"memory": "64Mi"},
            "min": {"cpu": "50m", "ephemeral-storage": "1Mi"}}))
        else {
            panic!("item reads")
        };
        assert_eq!(
            texts(&item.default),
            pairs(&[("cpu", "500m"), ("memory", "1Gi")])
        );
        assert_eq!(
            texts(&item.default_request),
            pairs(&[
                ("cpu", "500m"),
                ("ephemeral-storage", "1Mi"),
                ("memory", "64Mi")
            ])
        );
        // Pod items get no defaults.
        let Some(pod) = Item::read(&json!({"type": "Pod", "max": {"cpu": "2"}})) else {
            panic!("pod item reads")
        };
        assert!(pod.default.is_empty() && pod.default_request.is_empty());
    }

    #[test]
    fn later_container_items_replace_earlier_defaults() {
        let items = items(&json!({"spec": {"limits": [
            {"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "100m"}},
            {"type": "Pod", "max": {"cpu": "4"}},
            {"type": "Container", "default": {"cpu": "2", "memory": "1Gi"}, "defaultRequest": {"cpu": "200m"}}
        ]}}));
        let defaults = ContainerDefaults::of(&items);
        assert_eq!(
            texts(&defaults.limits),
            pairs(&[("cpu", "2"), ("memory", "1Gi")])
        );
        assert_eq!(
            texts(&defaults.requests),
            pairs(&[("cpu", "200m"), ("memory", "1Gi")])
        );
        assert!(!defaults.is_empty());
        assert!(ContainerDefaults::of(&[]).is_empty());
    }
}
