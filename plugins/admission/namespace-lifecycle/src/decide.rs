//! What NamespaceLifecycle refuses: creates in a namespace that is missing or terminating,
//! and deletes of an immortal namespace. Pure functions over the request, the configuration
//! and a namespace lookup, so native tests cover every path.

use keel_sdk::admission::{Operation, Request, Verdict};
use keel_sdk::json::{At, Fields};
use serde::Deserialize;
use serde_json::Value;

/// The plugin's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// Namespaces that may never be deleted.
    pub immortal_namespaces: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            immortal_namespaces: ["default", "kube-system", "kube-public"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// What [`is_terminating`] reads of a Namespace, so the cache's copy is parsed into only
/// that ([`keel_sdk::json::parse_only`]).
pub static NAMESPACE_READ: Fields = Fields::Only(&[
    (
        "metadata",
        Fields::Only(&[("deletionTimestamp", Fields::All)]),
    ),
    ("status", Fields::Only(&[("phase", Fields::All)])),
]);

/// Whether a Namespace object is being terminated: marked for deletion, or in phase
/// `Terminating`.
pub fn is_terminating(namespace: &Value) -> bool {
    namespace
        .at("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
        || namespace.at("/status/phase").and_then(Value::as_str) == Some("Terminating")
}

/// Whether the request is about the core `Namespace` kind itself.
fn is_namespace_kind(request: &Request) -> bool {
    request.group.is_empty() && request.kind == "Namespace"
}

/// Access reviews are always allowed: answering them about a missing namespace would leak
/// whether it exists (Kubernetes exempts them likewise).
fn is_access_review(request: &Request) -> bool {
    request.group == "authorization.k8s.io" && request.kind == "LocalSubjectAccessReview"
}

/// The verdict on `request`. `namespace` looks a namespace up by name in the admission
/// cache; it is called at most once, and only for a create of a namespaced object.
pub fn check(
    request: &Request,
    config: &Config,
    namespace: impl FnOnce(&str) -> Option<Value>,
) -> Verdict {
    if is_namespace_kind(request) {
        let immortal = config.immortal_namespaces.contains(&request.name);
        if request.operation == Operation::Delete && immortal {
            return Verdict::forbidden("this namespace may not be deleted");
        }
        return Verdict::allow();
    }
    if request.operation != Operation::Create
        || request.namespace.is_empty()
        || request
            .subresource
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        || is_access_review(request)
    {
        return Verdict::allow();
    }
    let name = request.namespace.as_str();
    match namespace(name) {
        None => Verdict::deny(404, "NotFound", format!("namespaces \"{name}\" not found")),
        Some(ns) if is_terminating(&ns) => Verdict::forbidden(format!(
            "unable to create new content in namespace {name} because it is being terminated"
        )),
        Some(_) => Verdict::allow(),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use keel_sdk::admission::UserInfo;
    use serde_json::json;

    use super::*;

    fn request(operation: Operation, kind: &str, namespace: &str, name: &str) -> Request {
        Request {
            uid: "uid".into(),
            operation,
            group: String::new(),
            version: "v1".into(),
            kind: kind.into(),
            resource: format!("{}s", kind.to_lowercase()),
            subresource: None,
            namespace: namespace.into(),
            name: name.into(),
            user: UserInfo {
                username: "alice".into(),
                groups: vec![],
            },
            object: None,
            old_object: None,
            dry_run: false,
        }
    }

    fn active(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
               "status": {"phase": "Active"}})
    }

    /// (code, reason, message) of a denial, or None when allowed.
    fn denial(verdict: &Verdict) -> Option<(u16, &str, &str)> {
        verdict
            .denied
            .as_ref()
            .map(|d| (d.code, d.reason.as_str(), d.message.as_str()))
    }

    #[test]
    fn create_in_an_existing_active_namespace_is_allowed() {
        let verdict = check(
            &request(Operation::Create, "Pod", "team", "web"),
            &Config::default(),
            |n| (n == "team").then(|| active(n)),
        );
        assert_eq!(denial(&verdict), None);
    }

    /// "rejects creation of objects in a namespace that does not exist" (NotFound, as the
    /// API server answers a missing namespace).
    #[test]
    fn create_in_a_missing_namespace_is_not_found() {
        let verdict = check(
            &request(Operation::Create, "ConfigMap", "nowhere", "c"),
            &Config::default(),
            |_| None,
        );
        assert_eq!(
            denial(&verdict),
            Some((404, "NotFound", "namespaces \"nowhere\" not found"))
        );
    }

    /// "enforces that a Namespace that is undergoing termination cannot have new objects
    /// created in it": by deletionTimestamp or by phase.
    #[test]
    fn create_in_a_terminating_namespace_is_forbidden() {
        let message =
            "unable to create new content in namespace old because it is being terminated";
        let marked = json!({"metadata": {"name": "old", "deletionTimestamp": "2024-01-01T00:00:00Z"},
                            "status": {"phase": "Active"}});
        let verdict = check(
            &request(Operation::Create, "Pod", "old", "p"),
            &Config::default(),
            |_| Some(marked),
        );
        assert_eq!(denial(&verdict), Some((403, "Forbidden", message)));
        let phased = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
        let verdict = check(
            &request(Operation::Create, "Secret", "old", "s"),
            &Config::default(),
            |_| Some(phased),
        );
        assert_eq!(denial(&verdict), Some((403, "Forbidden", message)));
    }

    #[test]
    fn updates_and_deletes_in_a_terminating_namespace_are_allowed() {
        let terminating = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
        for operation in [Operation::Update, Operation::Delete] {
            let looked = Cell::new(false);
            let verdict = check(
                &request(operation, "Pod", "old", "p"),
                &Config::default(),
                |_| {
                    looked.set(true);
                    Some(terminating.clone())
                },
            );
            assert_eq!(denial(&verdict), None);
            assert!(!looked.get(), "only creates read the namespace");
        }
    }

    #[test]
    fn namespaces_cluster_objects_subresources_and_access_reviews_are_not_checked() {
        let config = Config::default();
        let missing = |_: &str| -> Option<Value> { None };
        let ns = request(Operation::Create, "Namespace", "", "fresh");
        assert_eq!(denial(&check(&ns, &config, missing)), None);
        let node = request(Operation::Create, "Node", "", "n1");
        assert_eq!(denial(&check(&node, &config, missing)), None);
        let mut binding = request(Operation::Create, "Pod", "gone", "p");
        binding.subresource = Some("binding".into());
        assert_eq!(denial(&check(&binding, &config, missing)), None);
        let mut review = request(Operation::Create, "LocalSubjectAccessReview", "gone", "");
        review.group = "authorization.k8s.io".into();
        assert_eq!(denial(&check(&review, &config, missing)), None);
        // An empty subresource string is the object itself, still checked.
        let mut plain = request(Operation::Create, "Pod", "gone", "p");
        plain.subresource = Some(String::new());
        assert_eq!(
            denial(&check(&plain, &config, missing)).map(|d| d.0),
            Some(404)
        );
    }

    /// "prevents deletion of ... default, kube-system and kube-public".
    #[test]
    fn immortal_namespaces_may_not_be_deleted() {
        let config = Config::default();
        for name in ["default", "kube-system", "kube-public"] {
            let verdict = check(
                &request(Operation::Delete, "Namespace", "", name),
                &config,
                |_| None,
            );
            assert_eq!(
                denial(&verdict),
                Some((403, "Forbidden", "this namespace may not be deleted")),
                "{name}"
            );
        }
        let other = request(Operation::Delete, "Namespace", "", "team");
        assert_eq!(denial(&check(&other, &config, |_| None)), None);
        // Updating an immortal namespace is fine.
        let update = request(Operation::Update, "Namespace", "", "default");
        assert_eq!(denial(&check(&update, &config, |_| None)), None);
    }

    #[test]
    fn the_immortal_list_is_configurable() {
        let Ok(config) = serde_json::from_value::<Config>(json!({"immortalNamespaces": ["prod"]}))
        else {
            panic!("config parses")
        };
        let prod = request(Operation::Delete, "Namespace", "", "prod");
        assert_eq!(
            denial(&check(&prod, &config, |_| None)).map(|d| d.0),
            Some(403)
        );
        let default = request(Operation::Delete, "Namespace", "", "default");
        assert_eq!(denial(&check(&default, &config, |_| None)), None);
        // An empty object keeps the default list.
        let Ok(config) = serde_json::from_value::<Config>(json!({})) else {
            panic!("empty config parses")
        };
        assert_eq!(config.immortal_namespaces.len(), 3);
        let Ok(config) = serde_json::from_value::<Option<Config>>(Value::Null) else {
            panic!("null config parses")
        };
        assert!(config.is_none());
    }

    #[test]
    fn terminating_detection() {
        assert!(!is_terminating(&active("a")));
        assert!(!is_terminating(
            &json!({"metadata": {"name": "a", "deletionTimestamp": null}})
        ));
        assert!(is_terminating(
            &json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}})
        ));
        assert!(is_terminating(&json!({"status": {"phase": "Terminating"}})));
    }

    #[test]
    fn what_is_read_of_a_namespace_decides_as_the_whole_does() {
        for namespace in [
            active("a"),
            json!({"metadata": {"name": "a", "labels": {"x": "y"}, "deletionTimestamp": null},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
            json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}}),
            json!({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}),
        ] {
            let read = keel_sdk::json::parse_only(&namespace.to_string(), &NAMESPACE_READ)
                .map(|read| is_terminating(&read))
                .map_err(|e| e.to_string());
            assert_eq!(read, Ok(is_terminating(&namespace)), "{namespace}");
        }
    }
}
