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
//! image is under none of the prefixes, naming the container and the image. It only
//! validates.

use std::borrow::Cow;
use std::collections::BTreeMap;

use keel_sdk::admission::{Admission, PluginError, Request, Steps, Verdict, config};
use keel_sdk::pods::PodAt;
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

/// What the policy reads of an object: the containers of a Pod's spec or of a workload's
/// pod template. Only these fields are parsed; the rest of the object is skipped unread.
#[derive(Deserialize)]
pub struct Object<'a> {
    #[serde(borrow, default)]
    spec: Option<Spec<'a>>,
}

/// A Pod's spec, a workload's spec (`template`) or a CronJob's (`jobTemplate`): one type
/// for all three, since an object has only the fields of its own kind. Every field may be
/// missing or `null`, as clients write them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    #[serde(borrow, default)]
    init_containers: Option<Vec<Container<'a>>>,
    #[serde(borrow, default)]
    containers: Option<Vec<Container<'a>>>,
    #[serde(borrow, default)]
    ephemeral_containers: Option<Vec<Container<'a>>>,
    #[serde(borrow, default)]
    template: Option<Box<Template<'a>>>,
    #[serde(borrow, default)]
    job_template: Option<Box<Template<'a>>>,
}

/// A pod template, or a CronJob's job template (whose `spec` holds the pod template).
#[derive(Deserialize)]
struct Template<'a> {
    #[serde(borrow, default)]
    spec: Option<Spec<'a>>,
}

#[derive(Deserialize)]
struct Container<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    /// None when missing or null: a container with no image is the schema's to refuse.
    #[serde(borrow, default)]
    image: Option<Cow<'a, str>>,
}

impl<'a> Object<'a> {
    /// The policy's decision on this object of `kind` in API `group`: the denial message for
    /// the first container whose image is under none of `allowed`, if any. Kinds with no pod
    /// spec are allowed.
    pub fn denial(&self, group: &str, kind: &str, allowed: &[String]) -> Option<String> {
        self.pod_spec(group, kind)
            .and_then(|spec| spec.check(allowed))
    }

    /// The pod spec of an object of `group`/`kind`: a Pod's `spec`, or a workload's pod
    /// template. PodTemplates are not checked: nothing runs them as they are.
    fn pod_spec(&self, group: &str, kind: &str) -> Option<&Spec<'a>> {
        let spec = self.spec.as_ref()?;
        match PodAt::of(group, kind)? {
            PodAt::Pod => Some(spec),
            PodAt::Template => spec.template(),
            PodAt::JobTemplate => spec.job_template.as_ref()?.spec.as_ref()?.template(),
            PodAt::PodTemplate => None,
        }
    }
}

impl<'a> Spec<'a> {
    /// The spec of this workload's pod template.
    fn template(&self) -> Option<&Spec<'a>> {
        self.template.as_ref()?.spec.as_ref()
    }

    /// The first container whose image is under none of `allowed`, as a denial message.
    fn check(&self, allowed: &[String]) -> Option<String> {
        let containers = [
            &self.init_containers,
            &self.containers,
            &self.ephemeral_containers,
        ]
        .into_iter()
        .flatten()
        .flatten();
        containers
            .filter_map(|c| Some((c.name.as_deref().unwrap_or(""), c.image.as_deref()?)))
            .find(|(_, image)| {
                !allowed
                    .iter()
                    .any(|prefix| image.starts_with(prefix.as_str()))
            })
            .map(|(name, image)| {
                format!(
                    "container {name:?} uses image {image:?}: not under an allowed prefix ({})",
                    allowed.join(", ")
                )
            })
    }
}

/// [`Object::denial`] on `object`, JSON text.
pub fn check(
    group: &str,
    kind: &str,
    object: &str,
    allowed: &[String],
) -> serde_json::Result<Option<String>> {
    let object: Object = serde_json::from_str(object)?;
    Ok(object.denial(group, kind, allowed))
}

struct ImagePolicy;

impl Admission for ImagePolicy {
    const STEPS: Steps = Steps::VALIDATE;

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let config: Option<Config> = config()?;
        let config = config.unwrap_or_default();
        let Some(allowed) = config.allowed_in(&request.namespace) else {
            return Ok(Verdict::allow());
        };
        let Some(object) = request.object.as_deref() else {
            return Ok(Verdict::allow());
        };
        Ok(
            match check(&request.group, &request.kind, object, allowed)? {
                Some(message) => Verdict::forbidden(message),
                None => Verdict::allow(),
            },
        )
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
        let allowed = ["docker.io/library/".to_string()];
        let denial = |kind: &str, object: serde_json::Value| {
            let group = match kind {
                "Deployment" => "apps",
                "CronJob" => "batch",
                _ => "",
            };
            check(group, kind, &object.to_string(), &allowed).unwrap_or_else(|e| panic!("{e}"))
        };
        let evil = json!([{"name": "web", "image": "evil.example/web"}]);
        let deployment = json!({"spec": {"template": {"spec": {"containers": evil}}}});
        let message = denial("Deployment", deployment);
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("evil.example/web") && m.contains("\"web\"")),
            "{message:?}"
        );
        let cron_job = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": evil}}}}}});
        assert!(denial("CronJob", cron_job).is_some());
        // A Pod's own containers, init and ephemeral ones included.
        let pod = |field: &str| json!({"spec": {field: evil}});
        for field in ["containers", "initContainers", "ephemeralContainers"] {
            assert!(denial("Pod", pod(field)).is_some(), "{field}");
        }
        let fine =
            json!({"spec": {"containers": [{"name": "c", "image": "docker.io/library/nginx"}]}});
        assert_eq!(denial("Pod", fine), None);
        // A kind with no pod spec, and a Pod-shaped object under another kind.
        assert_eq!(denial("ConfigMap", pod("containers")), None);
        assert_eq!(denial("Deployment", pod("containers")), None);
        // A kind of the same name in another group is not a workload.
        let deployment = json!({"spec": {"template": {"spec": {"containers": evil}}}});
        let other = check(
            "example.com",
            "Deployment",
            &deployment.to_string(),
            &allowed,
        );
        assert!(matches!(other, Ok(None)), "{other:?}");
        // Lists written as null are empty lists.
        let nulls = json!({"spec": {"initContainers": null, "containers": [{"name": "c",
            "image": "docker.io/library/nginx"}], "ephemeralContainers": null}});
        assert_eq!(denial("Pod", nulls), None);
        let template = json!({"spec": {"template": null}});
        assert_eq!(denial("Deployment", template), None);
        // A container with no image (missing or null) is left to the schema plugin.
        let no_image =
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "image": null}]}});
        assert_eq!(denial("Pod", no_image), None);
        // Escaped strings are read as well as plain ones.
        let escaped =
            r#"{"spec": {"containers": [{"name": "c", "image": "evil\u002eexample/x"}]}}"#;
        let message = check("", "Pod", escaped, &allowed).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("evil.example/x")),
            "{message:?}"
        );
    }

    #[test]
    fn an_object_that_is_not_json_is_an_error() {
        let allowed = ["docker.io/library/".to_string()];
        assert!(check("", "Pod", "{", &allowed).is_err());
        assert!(check("", "Pod", r#"{"spec": {"containers": 3}}"#, &allowed).is_err());
    }
}
