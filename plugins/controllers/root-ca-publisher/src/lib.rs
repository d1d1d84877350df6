//! Controller plugin: publishes the cluster's CA certificate as the ConfigMap
//! `kube-root-ca.crt` (key `ca.crt`) in every namespace, as Kubernetes' root-CA publisher does.
//!
//! Configuration: `{"caCert": "-----BEGIN CERTIFICATE-----..."}`. Keys are Namespaces:
//! for a namespace that exists and is not terminating, the ConfigMap is created when the
//! cache has none, and updated when its `ca.crt` differs. A deleted namespace needs nothing.

use keel_sdk::controller::{
    Action, ObjectRef, PluginError, ReconcileResult, Reconciler, View, objects, parse_config,
};
use keel_sdk::json::At;
use serde::Deserialize;
use serde_json::{Value, json};

/// The ConfigMap this controller keeps in every namespace.
pub const CONFIGMAP: &str = "kube-root-ca.crt";

/// The plugin's configuration.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    ca_cert: String,
}

/// The action that makes `existing` (the cache's ConfigMap, if any) hold `ca_cert`.
pub fn desired_action(namespace: &str, ca_cert: &str, existing: Option<Value>) -> Option<Action> {
    match existing {
        None => Some(Action::Create(
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": CONFIGMAP, "namespace": namespace},
                "data": {"ca.crt": ca_cert},
            })
            .to_string(),
        )),
        Some(current) if current.at("/data/ca.crt").and_then(Value::as_str) == Some(ca_cert) => {
            None
        }
        Some(mut current) => {
            current["data"] = json!({"ca.crt": ca_cert});
            Some(Action::Update(current.to_string()))
        }
    }
}

/// The controller, with its configuration read once.
pub struct RootCaPublisher {
    ca_cert: String,
}

impl Reconciler for RootCaPublisher {
    fn new(config: &str) -> Result<Self, PluginError> {
        let Config { ca_cert } = parse_config(config)?;
        Ok(RootCaPublisher { ca_cert })
    }

    fn reconcile(
        &self,
        view: &dyn View,
        key: &ObjectRef,
        object: Option<Value>,
    ) -> Result<ReconcileResult, PluginError> {
        let Some(namespace) = object else {
            return Ok(ReconcileResult::done());
        };
        if objects::is_deleting(&namespace) {
            return Ok(ReconcileResult::done());
        }
        let existing = view.get("", "ConfigMap", &key.name, CONFIGMAP);
        let actions = desired_action(&key.name, &self.ca_cert, existing)
            .into_iter()
            .collect();
        Ok(ReconcileResult::actions(actions))
    }
}

keel_sdk::export_controller!(RootCaPublisher);
