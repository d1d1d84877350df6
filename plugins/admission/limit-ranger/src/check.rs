//! LimitRanger's validating half: `min`, `max` and `maxLimitRequestRatio` of `Container`,
//! `Pod` and `PersistentVolumeClaim` items, with Kubernetes' messages, several violations
//! joined as its error aggregate joins them.

use keel_sdk::json::At;
use serde_json::Value;

use crate::amount::{Amount, ResourceList, resource_list};
use crate::pod::{containers, pod_limits, pod_requests};
use crate::range::{Item, LimitType};

/// The request must be at least `enforced`, and so must the limit when set
/// (Kubernetes' `minConstraint`).
pub fn min_constraint(
    kind: LimitType,
    resource: &str,
    enforced: &Amount,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let kind = kind.name();
    let min = &enforced.text;
    let Some(request) = requests.get(resource) else {
        return Some(format!(
            "minimum {resource} usage per {kind} is {min}.  No request is specified"
        ));
    };
    if request.quantity < enforced.quantity {
        return Some(format!(
            "minimum {resource} usage per {kind} is {min}, but request is {}",
            request.text
        ));
    }
    match limits.get(resource) {
        Some(limit) if limit.quantity < enforced.quantity => Some(format!(
            "minimum {resource} usage per {kind} is {min}, but limit is {}",
            limit.text
        )),
        _ => None,
    }
}

/// The limit must be set and at most `enforced`, and so must the request when set
/// (Kubernetes' `maxConstraint`).
pub fn max_constraint(
    kind: LimitType,
    resource: &str,
    enforced: &Amount,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let kind = kind.name();
    let max = &enforced.text;
    let Some(limit) = limits.get(resource) else {
        return Some(format!(
            "maximum {resource} usage per {kind} is {max}.  No limit is specified"
        ));
    };
    if limit.quantity > enforced.quantity {
        return Some(format!(
            "maximum {resource} usage per {kind} is {max}, but limit is {}",
            limit.text
        ));
    }
    match requests.get(resource) {
        Some(request) if request.quantity > enforced.quantity => Some(format!(
            "maximum {resource} usage per {kind} is {max}, but request is {}",
            request.text
        )),
        _ => None,
    }
}

/// A claim's request must be set and at most `enforced` (Kubernetes'
/// `maxRequestConstraint`, for PersistentVolumeClaims, whose limits are not user input).
pub fn max_request_constraint(
    kind: LimitType,
    resource: &str,
    enforced: &Amount,
    requests: &ResourceList,
) -> Option<String> {
    let kind = kind.name();
    let max = &enforced.text;
    match requests.get(resource) {
        None => Some(format!(
            "maximum {resource} usage per {kind} is {max}.  No request is specified"
        )),
        Some(request) if request.quantity > enforced.quantity => Some(format!(
            "maximum {resource} usage per {kind} is {max}, but request is {}",
            request.text
        )),
        Some(_) => None,
    }
}

/// Limit / request must be at most `enforced`; both must be set and non-zero (Kubernetes'
/// `limitRequestRatioConstraint`, which prints the ratio with `%f`).
pub fn ratio_constraint(
    kind: LimitType,
    resource: &str,
    enforced: &Amount,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let kind = kind.name();
    let max = &enforced.text;
    let request = requests
        .get(resource)
        .map(|a| a.quantity)
        .filter(|q| !q.is_zero());
    let Some(request) = request else {
        return Some(format!(
            "{resource} max limit to request ratio per {kind} is {max}, but no request is specified or request is 0"
        ));
    };
    let limit = limits
        .get(resource)
        .map(|a| a.quantity)
        .filter(|q| !q.is_zero());
    let Some(limit) = limit else {
        return Some(format!(
            "{resource} max limit to request ratio per {kind} is {max}, but no limit is specified or limit is 0"
        ));
    };
    let ratio = limit.milli() as f64 / request.milli() as f64;
    if ratio * 1000.0 > enforced.quantity.milli() as f64 {
        return Some(format!(
            "{resource} max limit to request ratio per {kind} is {max}, but provided ratio is {ratio:.6}"
        ));
    }
    None
}

/// Every violation of `item`'s min, max and ratio by one set of requests and limits, in
/// resource name order.
fn bounds(item: &Item, requests: &ResourceList, limits: &ResourceList, out: &mut Vec<String>) {
    for (resource, min) in &item.min {
        out.extend(min_constraint(item.kind, resource, min, requests, limits));
    }
    for (resource, max) in &item.max {
        out.extend(max_constraint(item.kind, resource, max, requests, limits));
    }
    for (resource, ratio) in &item.max_limit_request_ratio {
        out.extend(ratio_constraint(
            item.kind, resource, ratio, requests, limits,
        ));
    }
}

/// Every violation of `items` by `pod`: `Container` items per container and init
/// container, `Pod` items on the pod's totals (Kubernetes' `PodValidateLimitFunc`).
pub fn check_pod(pod: &Value, items: &[Item]) -> Vec<String> {
    let containers = containers(pod);
    let mut out = Vec::new();
    for item in items {
        match item.kind {
            LimitType::Container => {
                for container in &containers {
                    bounds(item, &container.requests(), &container.limits(), &mut out);
                }
            }
            LimitType::Pod => {
                let requests = pod_requests(pod);
                let limits = pod_limits(pod);
                bounds(item, &requests, &limits, &mut out);
            }
            LimitType::PersistentVolumeClaim => {}
        }
    }
    out
}

/// Every violation of `items` by a PersistentVolumeClaim's `spec.resources.requests`
/// (Kubernetes' `PersistentVolumeClaimValidateLimitFunc`).
pub fn check_claim(claim: &Value, items: &[Item]) -> Vec<String> {
    let requests = resource_list(claim.at("/spec/resources/requests"));
    let none = ResourceList::new();
    let mut out = Vec::new();
    for item in items
        .iter()
        .filter(|i| i.kind == LimitType::PersistentVolumeClaim)
    {
        for (resource, min) in &item.min {
            out.extend(min_constraint(item.kind, resource, min, &requests, &none));
        }
        for (resource, max) in &item.max {
            out.extend(max_request_constraint(item.kind, resource, max, &requests));
        }
    }
    out
}

/// Violations as one message, as Kubernetes' error aggregate prints them: one alone,
/// several (duplicates dropped) as `[a, b]`; `None` for none.
pub fn aggregate(errors: Vec<String>) -> Option<String> {
    match errors.len() {
        0 => None,
        1 => errors.into_iter().next(),
        _ => {
            let mut seen: Vec<String> = Vec::new();
            for e in errors {
                if !seen.contains(&e) {
                    seen.push(e);
                }
            }
            if seen.len() == 1 {
                seen.into_iter().next()
            } else {
                Some(format!("[{}]", seen.join(", ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::range::items;

    fn range(limits: Value) -> Vec<Item> {
        items(&json!({"spec": {"limits": limits}}))
    }

    fn pod(resources: Value) -> Value {
        json!({"spec": {"containers": [{"name": "web", "image": "nginx", "resources": resources}]}})
    }

    /// "minimum cpu usage per Container is 100m, but request is 50m".
    #[test]
    fn container_min() {
        let items = range(json!([{"type": "Container", "min": {"cpu": "100m"}}]));
        assert_eq!(
            check_pod(&pod(json!({"requests": {"cpu": "50m"}})), &items),
            ["minimum cpu usage per Container is 100m, but request is 50m"]
        );
        assert_eq!(
            check_pod(
                &pod(json!({"requests": {"cpu": "200m"}, "limits": {"cpu": "90m"}})),
                &items
            ),
            ["minimum cpu usage per Container is 100m, but limit is 90m"]
        );
        assert_eq!(
            check_pod(&pod(json!({})), &items),
            ["minimum cpu usage per Container is 100m.  No request is specified"]
        );
        assert!(check_pod(&pod(json!({"requests": {"cpu": "100m"}})), &items).is_empty());
        // A limit alone is the request too (pod defaulting).
        assert!(check_pod(&pod(json!({"limits": {"cpu": "1"}})), &items).is_empty());
    }

    /// "maximum memory usage per Container is 1Gi, but limit is 2Gi".
    #[test]
    fn container_max() {
        let items = range(json!([{"type": "Container", "max": {"memory": "1Gi"}}]));
        assert_eq!(
            check_pod(&pod(json!({"limits": {"memory": "2Gi"}})), &items),
            ["maximum memory usage per Container is 1Gi, but limit is 2Gi"]
        );
        assert_eq!(
            check_pod(&pod(json!({"requests": {"memory": "1Gi"}})), &items),
            ["maximum memory usage per Container is 1Gi.  No limit is specified"]
        );
        assert_eq!(
            check_pod(
                &pod(json!({"requests": {"memory": "3Gi"}, "limits": {"memory": "1Gi"}})),
                &items
            ),
            ["maximum memory usage per Container is 1Gi, but request is 3Gi"]
        );
        assert!(check_pod(&pod(json!({"limits": {"memory": "1024Mi"}})), &items).is_empty());
    }

    /// "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000".
    #[test]
    fn container_ratio() {
        let items = range(json!([{"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}]));
        assert_eq!(
            check_pod(
                &pod(json!({"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}})),
                &items
            ),
            ["cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000"]
        );
        assert!(
            check_pod(
                &pod(json!({"requests": {"cpu": "500m"}, "limits": {"cpu": "1"}})),
                &items
            )
            .is_empty()
        );
        assert_eq!(
            check_pod(&pod(json!({"limits": {"memory": "1"}})), &items),
            [
                "cpu max limit to request ratio per Container is 2, but no request is specified or request is 0"
            ]
        );
        assert_eq!(
            check_pod(&pod(json!({"requests": {"cpu": "1"}})), &items),
            [
                "cpu max limit to request ratio per Container is 2, but no limit is specified or limit is 0"
            ]
        );
        let fractional =
            range(json!([{"type": "Container", "maxLimitRequestRatio": {"memory": "1.5"}}]));
        assert_eq!(
            check_pod(
                &pod(json!({"requests": {"memory": "300Mi"}, "limits": {"memory": "500Mi"}})),
                &fractional
            ),
            [
                "memory max limit to request ratio per Container is 1.5, but provided ratio is 1.666667"
            ]
        );
    }

    /// "maximum cpu usage per Pod is 2, but limit is 3": sums over containers.
    #[test]
    fn pod_max_sums_containers() {
        let items = range(json!([{"type": "Pod", "max": {"cpu": "2"}}]));
        let pod = json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1500m"}}},
            {"name": "b", "resources": {"limits": {"cpu": "1500m"}, "requests": {"cpu": "100m"}}}
        ]}});
        assert_eq!(
            check_pod(&pod, &items),
            ["maximum cpu usage per Pod is 2, but limit is 3"]
        );
        let min = range(json!([{"type": "Pod", "min": {"memory": "1Gi"}}]));
        let small = json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"memory": "256Mi"}}},
            {"name": "b", "resources": {"requests": {"memory": "256Mi"}}}
        ]}});
        assert_eq!(
            check_pod(&small, &min),
            ["minimum memory usage per Pod is 1Gi, but request is 512Mi"]
        );
    }

    /// Several violations in one message, in the aggregate's `[a, b]` form; init
    /// containers are checked like containers.
    #[test]
    fn several_violations_are_aggregated() {
        let items = range(
            json!([{"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "1", "memory": "1Gi"}}]),
        );
        let pod = json!({"spec": {
            "containers": [{"name": "web", "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "2", "memory": "512Mi"}}}],
            "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "500m", "memory": "2Gi"}}}]
        }});
        let errors = check_pod(&pod, &items);
        assert_eq!(
            aggregate(errors),
            Some("[minimum cpu usage per Container is 100m, but request is 50m, maximum cpu usage per Container is 1, but limit is 2, maximum memory usage per Container is 1Gi, but limit is 2Gi]".to_string())
        );
        assert_eq!(aggregate(vec![]), None);
        assert_eq!(aggregate(vec!["a".into(), "a".into()]), Some("a".into()));
        assert_eq!(aggregate(vec!["a".into()]), Some("a".into()));
    }

    /// PersistentVolumeClaim items bound `spec.resources.requests.storage`.
    #[test]
    fn claims_are_bounded_by_their_request() {
        let items = range(json!([
            {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}},
            {"type": "Container", "max": {"cpu": "1"}}
        ]));
        let claim =
            |storage: &str| json!({"spec": {"resources": {"requests": {"storage": storage}}}});
        assert_eq!(
            check_claim(&claim("20Gi"), &items),
            ["maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]
        );
        assert_eq!(
            check_claim(&claim("500Mi"), &items),
            ["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
        );
        assert!(check_claim(&claim("5Gi"), &items).is_empty());
        assert_eq!(
            check_claim(&json!({"spec": {}}), &items),
            [
                "minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified",
                "maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified"
            ]
        );
        // Pod items do not apply to claims, nor claim items to pods.
        assert!(check_pod(&pod(json!({"limits": {"cpu": "1"}})), &items).is_empty());
    }
}
