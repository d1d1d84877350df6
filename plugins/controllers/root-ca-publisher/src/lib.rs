//! Controller plugin: publishes the cluster's CA certificate as the ConfigMap
//! `kube-root-ca.crt` (key `ca.crt`) in every namespace, as Kubernetes' root-CA publisher does.
//!
//! Configuration: `{"caCert": "-----BEGIN CERTIFICATE-----..."}`. Keys are Namespaces:
//! for a namespace that exists and is not terminating, the ConfigMap is created when the
//! cache has none, and updated when its `ca.crt` differs. A deleted namespace needs nothing.

use keel_sdk::controller::{
    Action, Controller, ObjectRef, PluginError, ReconcileResult, cache, config,
};
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
        Some(current)
            if current.pointer("/data/ca.crt").and_then(Value::as_str) == Some(ca_cert) =>
        {
            None
        }
        Some(mut current) => {
            current["data"] = json!({"ca.crt": ca_cert});
            Some(Action::Update(current.to_string()))
        }
    }
}

struct RootCaPublisher;

impl Controller for RootCaPublisher {
    fn reconcile(key: ObjectRef, object: Option<String>) -> Result<ReconcileResult, PluginError> {
        let done = ReconcileResult {
            actions: vec![],
            requeue_after_millis: None,
        };
        let Some(object) = object else {
            return Ok(done);
        };
        let namespace: Value = serde_json::from_str(&object)?;
        if namespace
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
        {
            return Ok(done);
        }
        let Config { ca_cert } = config()?;
        let existing = cache::get(&ObjectRef {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: key.name.clone(),
            name: CONFIGMAP.into(),
        });
        let existing = existing
            .map(|text| serde_json::from_str(&text))
            .transpose()?;
        let actions = desired_action(&key.name, &ca_cert, existing)
            .into_iter()
            .collect();
        Ok(ReconcileResult {
            actions,
            requeue_after_millis: None,
        })
    }
}

keel_sdk::export_controller!(RootCaPublisher);
