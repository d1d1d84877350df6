//! Admission plugin: pods may only use images under the prefixes the configuration allows.
//!
//! Configuration: `{"allowedPrefixes": ["registry.example/", "docker.io/library/"]}`; with no
//! configuration every image is allowed. `validate` denies (403 Forbidden) a Pod with a
//! container or init container whose image is under none of them, naming the container and
//! image. `mutate` changes nothing.

use keel_sdk::admission::{
    Admission, Denial, Level, Mutation, PluginError, Request, Verdict, config, host,
};
use serde::Deserialize;

/// The plugin's configuration.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Image prefixes allowed; unset allows every image.
    pub allowed_prefixes: Option<Vec<String>>,
}

/// The first container in `pod` whose image is under none of `allowed`, as a denial message.
pub fn check_pod(pod: &serde_json::Value, allowed: &[String]) -> Option<String> {
    let spec = pod.get("spec")?;
    ["initContainers", "containers"]
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

struct ImagePolicy;

impl Admission for ImagePolicy {
    fn mutate(_: Request) -> Result<Mutation, PluginError> {
        Ok(Mutation {
            patch: None,
            warnings: vec![],
        })
    }

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let allow = Verdict {
            denied: None,
            warnings: vec![],
        };
        let config: Option<Config> = config()?;
        let Some(allowed) = config.and_then(|c| c.allowed_prefixes) else {
            return Ok(allow);
        };
        let (Some(object), "Pod") = (request.object.as_deref(), request.kind.as_str()) else {
            return Ok(allow);
        };
        let pod: serde_json::Value = serde_json::from_str(object)?;
        host::log(
            Level::Debug,
            &format!("checking pod {}/{}", request.namespace, request.name),
        );
        Ok(match check_pod(&pod, &allowed) {
            Some(message) => Verdict {
                denied: Some(Denial {
                    code: 403,
                    reason: "Forbidden".into(),
                    message,
                }),
                warnings: vec![],
            },
            None => allow,
        })
    }
}

keel_sdk::export_admission!(ImagePolicy);
