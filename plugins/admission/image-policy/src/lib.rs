//! Admission plugin: pods may only use images under the prefixes the configuration allows,
//! for all namespaces or per namespace.
//!
//! Configuration:
//! ```json
//! {"allowedPrefixes": ["registry.example/", "docker.io/library/"],
//!  "namespaces": {"team-a": ["registry.example/team-a/"]}}
//! ```
//! A namespace listed under `namespaces` uses its own list; others use `allowedPrefixes`;
//! with neither every image is allowed. `validate` denies (403 Forbidden) a Pod, or a
//! workload whose pod template, with a container, init container or ephemeral container whose
//! image is under none of the prefixes, naming the container and the image. `mutate`
//! changes nothing.

use std::collections::BTreeMap;

use keel_sdk::admission::{Admission, Mutation, PluginError, Request, Verdict, config};
use keel_sdk::json::At;
use serde::Deserialize;

/// The plugin's configuration.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Image prefixes allowed in namespaces not listed in `namespaces`; unset allows every
    /// image.
    pub allowed_prefixes: Option<Vec<String>>,
    /// Image prefixes allowed per namespace, replacing `allowedPrefixes` there.
    #[serde(default)]
    pub namespaces: BTreeMap<String, Vec<String>>,
}

impl Config {
    /// The prefixes allowed in `namespace`; `None` allows every image.
    pub fn allowed_in(&self, namespace: &str) -> Option<&[String]> {
        self.namespaces
            .get(namespace)
            .or(self.allowed_prefixes.as_ref())
            .map(Vec::as_slice)
    }
}

/// The pod spec inside an object of `kind`: a Pod's `spec`, or a workload's pod template.
pub fn pod_spec<'a>(kind: &str, object: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
    match kind {
        "Pod" => object.get("spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => object.at("/spec/template/spec"),
        "CronJob" => object.at("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// The first container in `spec` (a pod spec) whose image is under none of `allowed`, as a
/// denial message.
pub fn check_pod_spec(spec: &serde_json::Value, allowed: &[String]) -> Option<String> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .filter_map(|field| spec.get(field)?.as_array())
        .flatten()
        .find_map(|container| {
            let image = container.get("image")?.as_str()?;
            if allowed
                .iter()
                .any(|prefix| image.starts_with(prefix.as_str()))
            {
                return None;
            }
            let name = container.get("name").and_then(|n| n.as_str()).unwrap_or("");
            Some(format!(
                "container {name:?} uses image {image:?}: not under an allowed prefix ({})",
                allowed.join(", ")
            ))
        })
}

/// [`check_pod_spec`] on a Pod object.
pub fn check_pod(pod: &serde_json::Value, allowed: &[String]) -> Option<String> {
    check_pod_spec(pod.get("spec")?, allowed)
}

struct ImagePolicy;

impl Admission for ImagePolicy {
    fn mutate(_: Request) -> Result<Mutation, PluginError> {
        Ok(Mutation::none())
    }

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let config: Option<Config> = config()?;
        let config = config.unwrap_or_default();
        let Some(allowed) = config.allowed_in(&request.namespace) else {
            return Ok(Verdict::allow());
        };
        let Some(object) = request.object.as_deref() else {
            return Ok(Verdict::allow());
        };
        let object: serde_json::Value = serde_json::from_str(object)?;
        let Some(spec) = pod_spec(&request.kind, &object) else {
            return Ok(Verdict::allow());
        };
        Ok(match check_pod_spec(spec, allowed) {
            Some(message) => Verdict::forbidden(message),
            None => Verdict::allow(),
        })
    }
}

keel_sdk::export_admission!(ImagePolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_namespace_list_replaces_the_default() {
        let config: Config = serde_json::from_value(json!({
            "allowedPrefixes": ["docker.io/library/"],
            "namespaces": {"team-a": ["registry.example/team-a/"]}
        }))
        .unwrap_or_default();
        assert_eq!(
            config.allowed_in("team-a"),
            Some(&["registry.example/team-a/".to_string()][..])
        );
        assert_eq!(
            config.allowed_in("other"),
            Some(&["docker.io/library/".to_string()][..])
        );
        assert_eq!(Config::default().allowed_in("x"), None);
    }

    #[test]
    fn workload_templates_are_checked_like_pods() {
        let deployment = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "evil.example/web"}
        ]}}}});
        let allowed = ["docker.io/library/".to_string()];
        let spec = pod_spec("Deployment", &deployment);
        let message = spec.and_then(|s| check_pod_spec(s, &allowed));
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("evil.example/web")),
            "{message:?}"
        );
        let fine =
            json!({"spec": {"containers": [{"name": "c", "image": "docker.io/library/nginx"}]}});
        assert_eq!(check_pod(&fine, &allowed), None);
        assert_eq!(pod_spec("ConfigMap", &fine), None);
    }
}
