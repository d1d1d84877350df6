//! Which writes LimitRanger looks at, and its answer to each: pure functions over the
//! request and the namespace's LimitRanges (fetched through a closure only when needed).

use keel_sdk::admission::{Operation, PluginError, Request, Verdict};
use keel_sdk::json::At;
use serde_json::Value;

use crate::check::{aggregate, check_claim, check_pod};
use crate::defaults::default_pod;
use crate::range::{ContainerDefaults, Item};

/// The kinds LimitRanger handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Pod,
    Claim,
}

fn target(request: &Request) -> Option<Target> {
    if !request.group.is_empty() || request.namespace.is_empty() {
        return None;
    }
    match request.kind.as_str() {
        "Pod" => Some(Target::Pod),
        "PersistentVolumeClaim" => Some(Target::Claim),
        _ => None,
    }
}

fn is_subresource(request: &Request) -> bool {
    request
        .subresource
        .as_deref()
        .is_some_and(|s| !s.is_empty())
}

fn parse(text: Option<&str>) -> Result<Option<Value>, PluginError> {
    Ok(match text {
        Some(text) => Some(serde_json::from_str(text)?),
        None => None,
    })
}

/// What a write changes that LimitRanger bounds: each container's resources for a pod,
/// the storage request for a claim.
fn bounded_part(target: Target, object: &Value) -> Value {
    match target {
        Target::Pod => ["containers", "initContainers"]
            .iter()
            .flat_map(|field| {
                object
                    .get("spec")
                    .and_then(|spec| spec.get(field))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        Value::Array(vec![
                            c.get("name").cloned().unwrap_or_default(),
                            c.get("resources").cloned().unwrap_or_default(),
                        ])
                    })
            })
            .collect(),
        Target::Claim => object
            .at("/spec/resources/requests")
            .cloned()
            .unwrap_or_default(),
    }
}

/// `mutate`: for a Pod create, the JSON Patch (as text) giving its containers the
/// LimitRanges' default limits and requests; `None` otherwise or when nothing is missing.
/// `ranges` yields each LimitRange's items, in list order.
pub fn mutate(
    request: &Request,
    ranges: impl FnOnce() -> Vec<Vec<Item>>,
) -> Result<Option<String>, PluginError> {
    if target(request) != Some(Target::Pod)
        || request.operation != Operation::Create
        || is_subresource(request)
    {
        return Ok(None);
    }
    // Ranges first: with none in the namespace (the common case) the pod is not parsed.
    let defaults: Vec<ContainerDefaults> = ranges()
        .iter()
        .map(|items| ContainerDefaults::of(items))
        .collect();
    if defaults.is_empty() {
        return Ok(None);
    }
    let Some(pod) = parse(request.object.as_deref())? else {
        return Ok(None);
    };
    Ok(default_pod(&pod, &defaults).map(|ops| Value::Array(ops).to_string()))
}

/// `validate`: pods and claims on create, and on update when what LimitRanger bounds
/// changed, against every item of every LimitRange; 403 Forbidden with all violations.
pub fn validate(
    request: &Request,
    ranges: impl FnOnce() -> Vec<Vec<Item>>,
) -> Result<Verdict, PluginError> {
    let Some(target) = target(request) else {
        return Ok(Verdict::allow());
    };
    match request.operation {
        Operation::Create if !is_subresource(request) => {
            // Ranges first: with none in the namespace (the common case) the object is not
            // parsed.
            let items: Vec<Item> = ranges().into_iter().flatten().collect();
            if items.is_empty() {
                return Ok(Verdict::allow());
            }
            let Some(object) = parse(request.object.as_deref())? else {
                return Ok(Verdict::allow());
            };
            Ok(check(target, &object, &items))
        }
        Operation::Update => {
            let Some(object) = parse(request.object.as_deref())? else {
                return Ok(Verdict::allow());
            };
            let old = parse(request.old_object.as_deref())?;
            let unchanged = old
                .as_ref()
                .is_some_and(|old| bounded_part(target, old) == bounded_part(target, &object));
            if unchanged {
                return Ok(Verdict::allow());
            }
            let items: Vec<Item> = ranges().into_iter().flatten().collect();
            Ok(check(target, &object, &items))
        }
        _ => Ok(Verdict::allow()),
    }
}

/// The object against every item: 403 Forbidden with all violations.
fn check(target: Target, object: &Value, items: &[Item]) -> Verdict {
    let errors = match target {
        Target::Pod => check_pod(object, items),
        Target::Claim => check_claim(object, items),
    };
    match aggregate(errors) {
        Some(message) => Verdict::forbidden(message),
        None => Verdict::allow(),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use keel_sdk::admission::UserInfo;
    use serde_json::json;

    use super::*;
    use crate::range::items;

    fn request(
        operation: Operation,
        kind: &str,
        object: Option<Value>,
        old: Option<Value>,
    ) -> Request {
        Request {
            uid: "u".into(),
            operation,
            group: String::new(),
            version: "v1".into(),
            kind: kind.into(),
            resource: "pods".into(),
            subresource: None,
            namespace: "team".into(),
            name: "web".into(),
            user: UserInfo {
                username: "alice".into(),
                groups: vec![],
            },
            object: object.map(|o| o.to_string()),
            old_object: old.map(|o| o.to_string()),
            dry_run: false,
        }
    }

    fn limit_range() -> Vec<Vec<Item>> {
        vec![items(&json!({"spec": {"limits": [
            {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"},
             "max": {"cpu": "1"}, "min": {"cpu": "50m"}},
            {"type": "PersistentVolumeClaim", "max": {"storage": "5Gi"}}
        ]}}))]
    }

    fn pod(resources: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
               "spec": {"containers": [{"name": "web", "image": "nginx", "resources": resources}]}})
    }

    fn message(verdict: &Verdict) -> Option<(u16, &str)> {
        verdict
            .denied
            .as_ref()
            .map(|d| (d.code, d.message.as_str()))
    }

    #[test]
    fn mutate_patches_pod_creates_only() {
        let create = request(Operation::Create, "Pod", Some(pod(json!({}))), None);
        let Ok(Some(patch)) = mutate(&create, limit_range) else {
            panic!("a patch")
        };
        let Ok(ops) = serde_json::from_str::<Value>(&patch) else {
            panic!("patch is JSON")
        };
        assert_eq!(
            ops[0],
            json!({"op": "add", "path": "/spec/containers/0/resources/limits", "value": {"cpu": "500m"}})
        );
        for other in [
            request(
                Operation::Update,
                "Pod",
                Some(pod(json!({}))),
                Some(pod(json!({}))),
            ),
            request(Operation::Create, "ConfigMap", Some(json!({})), None),
        ] {
            let asked = Cell::new(false);
            let answer = mutate(&other, || {
                asked.set(true);
                limit_range()
            });
            assert!(matches!(answer, Ok(None)));
            assert!(!asked.get(), "no LimitRange read for {:?}", other.kind);
        }
        let mut binding = create.clone();
        binding.subresource = Some("binding".into());
        assert!(matches!(mutate(&binding, limit_range), Ok(None)));
        let mut broken = create;
        broken.object = Some("{".into());
        assert!(mutate(&broken, limit_range).is_err());
    }

    /// No LimitRange in the namespace, nothing to default or bound: the object is not even
    /// parsed (a text that is not JSON passes), as the host only sends serialized objects.
    #[test]
    fn without_a_limit_range_a_create_is_not_parsed() {
        let mut create = request(Operation::Create, "Pod", None, None);
        create.object = Some("{".into());
        assert!(matches!(mutate(&create, Vec::new), Ok(None)));
        assert!(matches!(validate(&create, Vec::new), Ok(v) if v.denied.is_none()));
        assert!(mutate(&create, limit_range).is_err());
        assert!(validate(&create, limit_range).is_err());
    }

    #[test]
    fn validate_denies_creates_out_of_bounds() {
        let greedy = request(
            Operation::Create,
            "Pod",
            Some(pod(json!({"limits": {"cpu": "2"}}))),
            None,
        );
        let Ok(verdict) = validate(&greedy, limit_range) else {
            panic!("a verdict")
        };
        // The limit is checked first; one violation per resource, as Kubernetes reports.
        assert_eq!(
            message(&verdict),
            Some((403, "maximum cpu usage per Container is 1, but limit is 2"))
        );
        let fine = request(
            Operation::Create,
            "Pod",
            Some(pod(json!({"limits": {"cpu": "1"}}))),
            None,
        );
        assert!(matches!(validate(&fine, limit_range), Ok(v) if v.denied.is_none()));
    }

    /// Pod resources are checked on update only when they changed (an in-place resize).
    #[test]
    fn validate_checks_updates_only_when_resources_change() {
        let before = pod(json!({"limits": {"cpu": "2"}}));
        let mut relabelled = before.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        let same = request(
            Operation::Update,
            "Pod",
            Some(relabelled),
            Some(before.clone()),
        );
        let asked = Cell::new(false);
        let verdict = validate(&same, || {
            asked.set(true);
            limit_range()
        });
        assert!(matches!(verdict, Ok(v) if v.denied.is_none()));
        assert!(!asked.get());
        let resized = request(
            Operation::Update,
            "Pod",
            Some(pod(json!({"limits": {"cpu": "3"}}))),
            Some(before),
        );
        let Ok(verdict) = validate(&resized, limit_range) else {
            panic!("a verdict")
        };
        assert_eq!(
            message(&verdict),
            Some((403, "maximum cpu usage per Container is 1, but limit is 3"))
        );
    }

    #[test]
    fn validate_bounds_claims_and_ignores_other_writes() {
        let claim = |storage: &str| json!({"kind": "PersistentVolumeClaim", "spec": {"resources": {"requests": {"storage": storage}}}});
        let big = request(
            Operation::Create,
            "PersistentVolumeClaim",
            Some(claim("10Gi")),
            None,
        );
        let Ok(verdict) = validate(&big, limit_range) else {
            panic!("a verdict")
        };
        assert_eq!(
            message(&verdict),
            Some((
                403,
                "maximum storage usage per PersistentVolumeClaim is 5Gi, but request is 10Gi"
            ))
        );
        let grown = request(
            Operation::Update,
            "PersistentVolumeClaim",
            Some(claim("6Gi")),
            Some(claim("1Gi")),
        );
        assert!(matches!(validate(&grown, limit_range), Ok(v) if v.denied.is_some()));
        let delete = request(
            Operation::Delete,
            "Pod",
            None,
            Some(pod(json!({"limits": {"cpu": "9"}}))),
        );
        assert!(matches!(validate(&delete, limit_range), Ok(v) if v.denied.is_none()));
        let mut apps = request(
            Operation::Create,
            "Pod",
            Some(pod(json!({"limits": {"cpu": "9"}}))),
            None,
        );
        apps.group = "example.com".into();
        assert!(matches!(validate(&apps, limit_range), Ok(v) if v.denied.is_none()));
    }
}
