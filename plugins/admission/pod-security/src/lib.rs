//! Admission plugin: the Pod Security Standards
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>), applied per
//! namespace as Kubernetes' PodSecurity admission applies them.
//!
//! A namespace chooses its levels (`privileged`, `baseline`, `restricted`) with labels:
//! `pod-security.kubernetes.io/enforce` denies (403 Forbidden) a Pod create or update that
//! violates the level, `violates PodSecurity "restricted:latest": <reason> (<detail>), ...`;
//! `pod-security.kubernetes.io/warn` lets it through with a warning, `would violate
//! PodSecurity ...`, and warns likewise about the pod templates of Deployments, ReplicaSets,
//! StatefulSets, DaemonSets, Jobs, CronJobs and ReplicationControllers. The version is always
//! `latest`; `-version` labels are accepted and ignored, and so is `audit`. Namespace labels
//! that are not levels are refused (422), and raising a namespace's enforce level warns about
//! its existing pods that would be denied.
//!
//! Configuration (all optional; unset is `privileged` everywhere, no exemptions):
//! ```json
//! {"defaults": {"enforce": "baseline", "warn": "restricted"},
//!  "exemptions": {"namespaces": ["kube-system"], "usernames": [], "runtimeClasses": []}}
//! ```
//! `defaults` apply to namespaces without the label; exempt namespaces, users and pods of
//! exempt runtime classes are not checked.
//!
//! Modules: [`level`] (levels and labels), [`mod@config`], [`checks`] (the standard's checks),
//! [`admission`] (Pods and workloads), [`namespace`] (Namespace writes), [`fields`] (the parts
//! of an object it parses). It only validates.

pub mod admission;
pub mod checks;
pub mod config;
pub mod fields;
pub mod level;
pub mod namespace;

use keel_sdk::admission::{
    Admission, Level as LogLevel, ObjectRef, PluginError, Request, Steps, Verdict, cache, config,
    host,
};
use keel_sdk::json::{Fields, parse_only};
use keel_sdk::pods::PodAt;
use serde_json::{Map, Value};

use admission::{Decision, Denial, Target};
use config::Config;

/// The labels of namespace `name`, from the host's cache.
fn namespace_labels(name: &str) -> Option<Map<String, Value>> {
    let text = cache::get(&ObjectRef {
        group: String::new(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: name.into(),
    })?;
    let mut namespace = parse_only(&text, &fields::NAMESPACE).ok()?;
    match namespace.get_mut("metadata")?.get_mut("labels")?.take() {
        Value::Object(labels) => Some(labels),
        _ => None,
    }
}

/// The pods of namespace `name`, from the host's cache.
fn namespace_pods(name: &str) -> Vec<Value> {
    cache::list("", "Pod", name, "")
        .iter()
        .filter_map(|text| parse_only(text, fields::pod(PodAt::Pod)).ok())
        .collect()
}

/// The parts of `text` (an object, if any) that `fields` names.
fn parse(text: Option<&str>, fields: &Fields) -> Result<Option<Value>, PluginError> {
    text.map(|text| parse_only(text, fields))
        .transpose()
        .map_err(PluginError::from)
}

fn verdict(decision: Decision) -> Verdict {
    let base = match decision.denial {
        None => Verdict::allow(),
        Some(Denial::Forbidden(message)) => Verdict::forbidden(message),
        Some(Denial::Invalid(message)) => Verdict::invalid(message),
    };
    Verdict {
        warnings: decision.warnings,
        ..base
    }
}

struct PodSecurity;

impl Admission for PodSecurity {
    const STEPS: Steps = Steps::VALIDATE;

    fn validate(request: Request) -> Result<Verdict, PluginError> {
        let target = admission::target(&request.group, &request.kind);
        let Some(read) = fields::of(target) else {
            return Ok(Verdict::allow());
        };
        let config: Option<Config> = config()?;
        let config = config.unwrap_or_default();
        let object = parse(request.object.as_deref(), read)?;
        let old_object = parse(request.old_object.as_deref(), read)?;
        let review = admission::Request {
            operation: request.operation,
            subresource: request.subresource.as_deref(),
            namespace: &request.namespace,
            name: &request.name,
            username: &request.user.username,
            object: object.as_ref(),
            old_object: old_object.as_ref(),
        };
        let ns = request.namespace.as_str();
        let decision = match target {
            Target::Pod => admission::review_pod(&review, &config, || namespace_labels(ns)),
            Target::Workload(at) => {
                admission::review_workload(&review, at.template_pointer(), &config, || {
                    namespace_labels(ns)
                })
            }
            Target::Namespace => {
                namespace::review_namespace(&review, &config, || namespace_pods(&request.name))
            }
            Target::Other => Decision::allow(),
        };
        if let Some(Denial::Forbidden(message)) = &decision.denial {
            host::log(
                LogLevel::Debug,
                &format!("denied {} {}/{}: {message}", request.kind, ns, request.name),
            );
        }
        Ok(verdict(decision))
    }
}

keel_sdk::export_admission!(PodSecurity);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_become_verdicts() {
        let allow = verdict(Decision::allow());
        assert!(allow.denied.is_none() && allow.warnings.is_empty());
        let warned = verdict(Decision {
            denial: None,
            warnings: vec!["would violate PodSecurity \"restricted:latest\": x".into()],
        });
        assert!(warned.denied.is_none());
        assert_eq!(warned.warnings.len(), 1);
        let forbidden = verdict(Decision {
            denial: Some(Denial::Forbidden(
                "violates PodSecurity \"baseline:latest\": x".into(),
            )),
            warnings: vec![],
        });
        assert_eq!(forbidden.denied.as_ref().map(|d| d.code), Some(403));
        assert_eq!(
            forbidden.denied.map(|d| d.message),
            Some("violates PodSecurity \"baseline:latest\": x".to_string())
        );
        let invalid = verdict(Decision {
            denial: Some(Denial::Invalid("metadata.labels[x]: Invalid value".into())),
            warnings: vec![],
        });
        assert_eq!(
            invalid.denied.map(|d| (d.code, d.reason)),
            Some((422, "Invalid".to_string()))
        );
    }

    #[test]
    fn bad_json_is_a_plugin_error() {
        let pod = fields::pod(PodAt::Pod);
        assert!(parse(Some("{"), pod).is_err());
        assert!(parse(Some(r#"{"status": {"phase": }}"#), pod).is_err());
        assert!(matches!(parse(None, pod), Ok(None)));
        assert!(matches!(parse(Some("{}"), pod), Ok(Some(_))));
    }
}
