//! The plugin host against real components built from `plugins/`: the example plugins of
//! every type, hostile plugins, contract checks, the compile cache, and live swaps.

mod catalog;
mod contract;
mod examples;
mod hostile;
mod in_task;
mod swap;

use std::sync::Arc;

use keel::plugin::calls::{AdmissionRequest, Operation, UserInfo};
use keel::plugin::{CallStats, Limits, Plugin, PluginHost, PluginSpec, PluginType, digest};

/// Reads a built component.
pub fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (built by plugins/artifacts)"))
}

/// A spec for `bytes` of type `plugin_type`.
pub fn spec(
    plugin_type: PluginType,
    bytes: &[u8],
    config: serde_json::Value,
    limits: Limits,
) -> PluginSpec {
    PluginSpec {
        config,
        limits,
        ..PluginSpec::new(plugin_type, digest(bytes))
    }
}

/// Loads the component at `path` as plugin `name`.
pub fn load(
    host: &PluginHost,
    name: &str,
    plugin_type: PluginType,
    path: &str,
    config: serde_json::Value,
    limits: Limits,
) -> Plugin {
    let bytes = bytes(path);
    let spec = spec(plugin_type, &bytes, config, limits);
    host.load(name, spec, &bytes, Arc::new(CallStats::default()))
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// An admission request for a create of `kind` named `name` in `default`.
pub fn request(kind: &str, name: &str, object: Option<serde_json::Value>) -> AdmissionRequest {
    AdmissionRequest {
        uid: "uid-1".into(),
        operation: Operation::Create,
        group: String::new(),
        version: "v1".into(),
        kind: kind.into(),
        resource: format!("{}s", kind.to_lowercase()),
        subresource: None,
        namespace: "default".into(),
        name: name.into(),
        user: UserInfo {
            username: "admin".into(),
            groups: vec!["system:masters".into()],
        },
        object: object.map(|o| o.to_string()),
        old_object: None,
        dry_run: false,
    }
}

/// A pod with one container per image.
pub fn pod(images: &[&str]) -> serde_json::Value {
    let containers: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(i, image)| serde_json::json!({"name": format!("c{i}"), "image": image}))
        .collect();
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
}
