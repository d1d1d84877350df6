//! ResourceQuota and LimitRange: every quantity parses, quota limits name quota resources
//! and are whole, non-negative amounts, and a limit range's min, max, defaults and ratios
//! are consistent (Kubernetes' `ValidateResourceQuotaSpec`, `ValidateLimitRange`).

use std::collections::{BTreeMap, BTreeSet};

use keel_sdk::json::At;
use keel_sdk::quantity::Quantity;
use serde_json::Value;

use crate::field::{BadValue, FieldError, Path, duplicate, forbidden, invalid, required};
use crate::names::qualified_name;
use crate::pod::list;
use crate::quantity::{self, Parsed};
use crate::resources::{container_resource_name, entries, quota_resource_name, resource_name};

/// Validates a ResourceQuota: `spec.hard`.
pub fn validate_resource_quota(quota: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let hard = quota.at("/spec/hard").and_then(Value::as_object);
    let spec = Path::new("spec");
    let path = spec.child("hard");
    for (name, value) in entries(hard) {
        let p = path.key(name);
        quota_resource_name(name, &p, &mut errs);
        quantity::check_value(name, value, &p, &mut errs);
    }
    errs
}

const LIMIT_TYPES: &[&str] = &["Pod", "Container", "PersistentVolumeClaim"];

/// A limit's `type`: a qualified name, standard when it has no domain.
fn validate_type(kind: &str, path: &Path, errs: &mut Vec<FieldError>) {
    let msgs = qualified_name(kind);
    if !msgs.is_empty() {
        for msg in msgs {
            errs.push(invalid(*path, BadValue::Str(kind.into()), &msg));
        }
        return;
    }
    if !kind.contains('/') && !LIMIT_TYPES.contains(&kind) {
        errs.push(invalid(
            *path,
            BadValue::Str(kind.into()),
            "must be a standard limit type or fully qualified",
        ));
    }
}

/// The quantities of one field of a limit (`max`, `min`, ...), by resource, after checking
/// that each name suits the limit's type and each quantity parses.
fn quantities(
    limit: &Value,
    field: &str,
    kind: &str,
    path: &Path,
    errs: &mut Vec<FieldError>,
) -> BTreeMap<String, Parsed> {
    let mut out = BTreeMap::new();
    let map = limit.get(field).and_then(Value::as_object);
    let field_path = path.child(field);
    for (name, value) in entries(map) {
        let p = field_path.key(name);
        if matches!(kind, "Pod" | "Container") {
            container_resource_name(name, &p, errs);
        } else {
            resource_name(name, &p, errs);
        }
        match quantity::parse(value, &p) {
            Ok(q) => {
                out.insert(name.clone(), q);
            }
            Err(e) => errs.push(e),
        }
    }
    out
}

fn quoted(q: &Parsed) -> BadValue {
    BadValue::Str(q.text())
}

/// Validates a LimitRange: `spec.limits`.
pub fn validate_limit_range(range: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = range.get("spec").unwrap_or(&Value::Null);
    let spec_path = Path::new("spec");
    let path = spec_path.child("limits");
    let mut types = BTreeSet::new();
    for (i, limit) in list(spec, "limits").iter().enumerate() {
        let p = path.index(i);
        let kind = limit
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        validate_type(kind, &p.child("type"), &mut errs);
        if !types.insert(kind) {
            errs.push(duplicate(p.child("type"), BadValue::Str(kind.into())));
        }
        validate_limit(limit, kind, &p, &mut errs);
    }
    errs
}

/// One item of `spec.limits`.
fn validate_limit(limit: &Value, kind: &str, p: &Path, errs: &mut Vec<FieldError>) {
    let max = quantities(limit, "max", kind, p, errs);
    let min = quantities(limit, "min", kind, p, errs);
    let present = |field: &str| {
        limit
            .get(field)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    };
    let (defaults, default_requests) = if kind == "Pod" {
        for field in ["default", "defaultRequest"] {
            if present(field) {
                errs.push(forbidden(
                    p.child(field),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
        }
        (BTreeMap::new(), BTreeMap::new())
    } else {
        (
            quantities(limit, "default", kind, p, errs),
            quantities(limit, "defaultRequest", kind, p, errs),
        )
    };
    if kind == "PersistentVolumeClaim"
        && !min.contains_key("storage")
        && !max.contains_key("storage")
    {
        errs.push(required(
            p.child("limits"),
            "either minimum or maximum storage value is required, but neither was provided",
        ));
    }
    let ratios = quantities(limit, "maxLimitRequestRatio", kind, p, errs);

    let keys: BTreeSet<&String> = max
        .keys()
        .chain(min.keys())
        .chain(defaults.keys())
        .chain(default_requests.keys())
        .chain(ratios.keys())
        .collect();
    let min_path = p.child("min");
    let (default_path, request_path) = (p.child("default"), p.child("defaultRequest"));
    let ratio_path = p.child("maxLimitRequestRatio");
    for key in keys {
        let (mn, mx) = (min.get(key), max.get(key));
        let (def, req) = (defaults.get(key), default_requests.get(key));
        if let (Some(mn), Some(mx)) = (mn, mx)
            && mn.quantity > mx.quantity
        {
            let msg = format!(
                "min value {} is greater than max value {}",
                mn.text(),
                mx.text()
            );
            errs.push(invalid(min_path.key(key), quoted(mn), &msg));
        }
        if let (Some(req), Some(mn)) = (req, mn)
            && mn.quantity > req.quantity
        {
            let msg = format!(
                "min value {} is greater than default request value {}",
                mn.text(),
                req.text()
            );
            errs.push(invalid(request_path.key(key), quoted(req), &msg));
        }
        if let (Some(req), Some(mx)) = (req, mx)
            && req.quantity > mx.quantity
        {
            let msg = format!(
                "default request value {} is greater than max value {}",
                req.text(),
                mx.text()
            );
            errs.push(invalid(request_path.key(key), quoted(req), &msg));
        }
        if let (Some(req), Some(def)) = (req, def)
            && req.quantity > def.quantity
        {
            let msg = format!(
                "default request value {} is greater than default limit value {}",
                req.text(),
                def.text()
            );
            errs.push(invalid(request_path.key(key), quoted(req), &msg));
        }
        if let (Some(def), Some(mn)) = (def, mn)
            && mn.quantity > def.quantity
        {
            let msg = format!(
                "min value {} is greater than default value {}",
                mn.text(),
                def.text()
            );
            errs.push(invalid(default_path.key(key), quoted(mn), &msg));
        }
        if let (Some(def), Some(mx)) = (def, mx)
            && def.quantity > mx.quantity
        {
            let msg = format!(
                "default value {} is greater than max value {}",
                def.text(),
                mx.text()
            );
            errs.push(invalid(default_path.key(key), quoted(mx), &msg));
        }
        if let Some(ratio) = ratios.get(key) {
            check_ratio(ratio, mn, mx, &ratio_path.key(key), errs);
        }
    }
}

/// `maxLimitRequestRatio`: at least 1, and no more than max / min when both are set.
fn check_ratio(
    ratio: &Parsed,
    min: Option<&Parsed>,
    max: Option<&Parsed>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if ratio.quantity < Quantity::from_units(1) {
        let msg = format!("ratio {} is less than 1", ratio.text());
        errs.push(invalid(*path, quoted(ratio), &msg));
    }
    if let (Some(mn), Some(mx)) = (min, max)
        && mn.quantity.milli() > 0
    {
        let limit = mx.quantity.milli() as f64 / mn.quantity.milli() as f64;
        let value = ratio.quantity.milli() as f64 / 1000.0;
        if value > limit {
            let msg = format!(
                "ratio {} is greater than max/min = {limit:.6}",
                ratio.text()
            );
            errs.push(invalid(*path, quoted(ratio), &msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn quota_hard_values_must_parse() {
        let ok = json!({"spec": {"hard": {"cpu": "10", "memory": "20Gi", "pods": 10, "count/deployments.apps": "5"}}});
        assert!(validate_resource_quota(&ok).is_empty());
        let bad = json!({"spec": {"hard": {"cpu": "lots", "pods": "1.5", "memory": "-1Gi"}}});
        let errs = strings(validate_resource_quota(&bad));
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with(
            "spec.hard[cpu]: Invalid value: \"lots\": quantities must match the regular expression"
        ));
        assert_eq!(
            errs[1],
            "spec.hard[memory]: Invalid value: \"-1Gi\": must be greater than or equal to 0"
        );
        assert_eq!(
            errs[2],
            "spec.hard[pods]: Invalid value: \"1500m\": must be an integer"
        );
    }

    #[test]
    fn quota_resources_must_be_quota_resources() {
        let bad = json!({"spec": {"hard": {"storage": "1Gi"}}});
        assert_eq!(
            strings(validate_resource_quota(&bad)),
            vec![
                "spec.hard[storage]: Invalid value: \"storage\": must be a standard resource for quota"
            ]
        );
    }

    #[test]
    fn limit_range_quantities_must_parse_in_every_field() {
        let ok = json!({"spec": {"limits": [{"type": "Container",
            "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "250m"},
            "min": {"cpu": "100m"}, "max": {"cpu": "2"}, "maxLimitRequestRatio": {"cpu": "4"}}]}});
        assert!(validate_limit_range(&ok).is_empty());
        for field in [
            "default",
            "defaultRequest",
            "min",
            "max",
            "maxLimitRequestRatio",
        ] {
            let bad =
                json!({"spec": {"limits": [{"type": "Container", field: {"memory": "1Gx"}}]}});
            let errs = strings(validate_limit_range(&bad));
            assert_eq!(errs.len(), 1, "{field}: {errs:?}");
            assert!(
                errs[0].starts_with(&format!(
                    "spec.limits[0].{field}[memory]: Invalid value: \"1Gx\": quantities must match"
                )),
                "{errs:?}"
            );
        }
    }

    #[test]
    fn limit_range_bounds_must_be_consistent() {
        let bad = json!({"spec": {"limits": [{"type": "Container",
            "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}});
        assert_eq!(
            strings(validate_limit_range(&bad)),
            vec![
                "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1"
            ]
        );
        let bad = json!({"spec": {"limits": [{"type": "Container",
            "default": {"memory": "64Mi"}, "defaultRequest": {"memory": "128Mi"}}]}});
        assert_eq!(
            strings(validate_limit_range(&bad)),
            vec![
                "spec.limits[0].defaultRequest[memory]: Invalid value: \"128Mi\": default request value 128Mi is greater than default limit value 64Mi"
            ]
        );
        let bad = json!({"spec": {"limits": [{"type": "Container",
            "min": {"cpu": "1"}, "max": {"cpu": "2"}, "maxLimitRequestRatio": {"cpu": "3"}}]}});
        assert_eq!(
            strings(validate_limit_range(&bad)),
            vec![
                "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: \"3\": ratio 3 is greater than max/min = 2.000000"
            ]
        );
        let bad = json!({"spec": {"limits": [{"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}]}});
        assert_eq!(
            strings(validate_limit_range(&bad)),
            vec![
                "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: \"500m\": ratio 500m is less than 1"
            ]
        );
    }

    #[test]
    fn limit_range_types() {
        let bad = json!({"spec": {"limits": [
            {"type": "Pod", "default": {"cpu": "1"}, "max": {"cpu": "2"}},
            {"type": "Pod", "max": {"cpu": "2"}},
            {"type": "Node", "max": {"cpu": "2"}},
            {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}
        ]}});
        assert_eq!(
            strings(validate_limit_range(&bad)),
            vec![
                "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
                "spec.limits[1].type: Duplicate value: \"Pod\"",
                "spec.limits[2].type: Invalid value: \"Node\": must be a standard limit type or fully qualified",
                "spec.limits[3].limits: Required value: either minimum or maximum storage value is required, but neither was provided",
            ]
        );
    }
}
