//! The three patch types kubectl and client libraries send: JSON merge patch
//! (RFC 7386), JSON Patch (RFC 6902), and strategic merge patch for the
//! built-in kinds, whose list merge keys are tabled here.

use serde_json::{Map, Value};

/// The patch formats, by their content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`
    Merge,
    /// `application/json-patch+json`
    Json,
    /// `application/strategic-merge-patch+json`
    Strategic,
}

impl PatchType {
    /// The format for a `Content-Type`, ignoring parameters.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/json-patch+json" => Some(Self::Json),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            _ => None,
        }
    }
}

/// Applies `patch` (already parsed) to `target`. The error is a message for the client.
pub fn apply(kind: PatchType, target: &Value, patch: &Value) -> Result<Value, String> {
    match kind {
        PatchType::Merge => {
            let mut out = target.clone();
            json_patch::merge(&mut out, patch);
            Ok(out)
        }
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| format!("invalid JSON Patch: {e}"))?;
            let mut out = target.clone();
            json_patch::patch(&mut out, &ops).map_err(|e| format!("JSON Patch failed: {e}"))?;
            Ok(out)
        }
        PatchType::Strategic => {
            let patch = patch
                .as_object()
                .ok_or("a strategic merge patch must be a JSON object")?;
            let orig = target.as_object().cloned().unwrap_or_default();
            Ok(Value::Object(merge_map(orig, patch)?))
        }
    }
}

/// How a list field merges in a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListMerge {
    /// Elements are maps matched by this key.
    ByKey(&'static str),
    /// Elements are scalars; the patch adds to the set.
    Union,
    /// The patch replaces the list.
    Replace,
}

/// The merge strategy of the built-in kinds' list fields (their
/// `patchStrategy`/`patchMergeKey` tags), by field name.
fn list_merge(field: &str, patch_items: &[Value]) -> ListMerge {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "secrets"
        | "resourceClaims"
        | "schedulingGates" => ListMerge::ByKey("name"),
        "volumeMounts" => ListMerge::ByKey("mountPath"),
        "volumeDevices" => ListMerge::ByKey("devicePath"),
        "hostAliases" => ListMerge::ByKey("ip"),
        "conditions" => ListMerge::ByKey("type"),
        "ownerReferences" => ListMerge::ByKey("uid"),
        "topologySpreadConstraints" => ListMerge::ByKey("topologyKey"),
        "finalizers" => ListMerge::Union,
        // Container ports merge by containerPort, Service ports by port.
        "ports" => {
            let container = patch_items.iter().any(|i| i.get("containerPort").is_some());
            ListMerge::ByKey(if container { "containerPort" } else { "port" })
        }
        _ => ListMerge::Replace,
    }
}

fn merge_map(
    mut orig: Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut out = patch.clone();
            out.remove("$patch");
            return Ok(strip_directives(out));
        }
        Some("delete") => return Ok(Map::new()),
        Some(other) => return Err(format!("unknown $patch directive {other:?}")),
        None => {}
    }
    if let Some(retain) = patch.get("$retainKeys") {
        let keep: Vec<&str> = retain
            .as_array()
            .ok_or("$retainKeys must be a list")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        orig.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, pv) in patch {
        if key == "$patch" || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let drop = pv
                .as_array()
                .ok_or("$deleteFromPrimitiveList needs a list")?;
            if let Some(Value::Array(items)) = orig.get_mut(field) {
                items.retain(|i| !drop.contains(i));
            }
            continue;
        }
        match pv {
            Value::Null => {
                orig.remove(key);
            }
            Value::Object(pm) => {
                let base = match orig.remove(key) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    continue;
                }
                orig.insert(key.clone(), Value::Object(merge_map(base, pm)?));
            }
            Value::Array(items) => {
                let base = match orig.remove(key) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                orig.insert(key.clone(), Value::Array(merge_list(key, base, items)?));
            }
            scalar => {
                orig.insert(key.clone(), scalar.clone());
            }
        }
    }
    Ok(orig)
}

fn merge_list(field: &str, mut base: Vec<Value>, items: &[Value]) -> Result<Vec<Value>, String> {
    let replace_all = items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
    if replace_all {
        return Ok(items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .map(strip_value)
            .collect());
    }
    match list_merge(field, items) {
        ListMerge::Replace => Ok(items.iter().cloned().map(strip_value).collect()),
        ListMerge::Union => {
            for i in items {
                if !base.contains(i) {
                    base.push(i.clone());
                }
            }
            Ok(base)
        }
        ListMerge::ByKey(mk) => {
            for item in items {
                let Some(pm) = item.as_object() else {
                    return Err(format!(
                        "list {field:?} merges by {mk:?}; its items must be objects"
                    ));
                };
                let key = pm
                    .get(mk)
                    .ok_or_else(|| format!("an item of {field:?} has no merge key {mk:?}"))?;
                let pos = base.iter().position(|b| b.get(mk) == Some(key));
                let delete = pm.get("$patch").and_then(Value::as_str) == Some("delete");
                match (pos, delete) {
                    (Some(p), true) => {
                        base.remove(p);
                    }
                    (None, true) => {}
                    (Some(p), false) => {
                        let orig = base[p].as_object().cloned().unwrap_or_default();
                        base[p] = Value::Object(merge_map(orig, pm)?);
                    }
                    (None, false) => base.push(Value::Object(strip_directives(pm.clone()))),
                }
            }
            Ok(base)
        }
    }
}

fn strip_directives(mut m: Map<String, Value>) -> Map<String, Value> {
    m.retain(|k, _| !k.starts_with('$'));
    for v in m.values_mut() {
        *v = strip_value(std::mem::take(v));
    }
    m
}

fn strip_value(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip_directives(m)),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_value).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(orig: Value, patch: Value) -> Value {
        apply(PatchType::Strategic, &orig, &patch).unwrap_or_else(|e| panic!("patch failed: {e}"))
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let orig = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}]}});
        let out = smp(
            orig,
            json!({"spec": {"containers": [
            {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]}]}}),
        );
        assert_eq!(out["spec"]["containers"][0]["image"], "a:2");
        assert_eq!(
            out["spec"]["containers"][0]["env"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(out["spec"]["containers"][1]["image"], "b:1");
    }

    #[test]
    fn strategic_directives() {
        let orig = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "args": ["1", "2"]}});
        let out = smp(
            orig,
            json!({
            "metadata": {"finalizers": ["b"], "labels": {"x": null}},
            "spec": {"containers": [{"name": "b", "$patch": "delete"}], "args": ["3"],
                     "$setElementOrder/containers": [{"name": "a"}]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(out["metadata"]["labels"], json!({"y": "2"}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "a"}]));
        assert_eq!(out["spec"]["args"], json!(["3"]));
        let out = smp(
            out,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {"$patch": "replace", "containers": [{"name": "c"}]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
        assert_eq!(out["spec"], json!({"containers": [{"name": "c"}]}));
    }

    #[test]
    fn ports_merge_by_the_right_key() {
        let svc = smp(
            json!({"spec": {"ports": [{"port": 80, "name": "http"}]}}),
            json!({"spec": {"ports": [{"port": 443, "name": "https"}]}}),
        );
        assert_eq!(svc["spec"]["ports"].as_array().map(Vec::len), Some(2));
        assert!(apply(PatchType::Strategic, &json!({}), &json!([1])).is_err());
    }

    #[test]
    fn merge_and_json_patch() {
        let orig = json!({"a": {"b": 1, "c": 2}});
        let out = apply(PatchType::Merge, &orig, &json!({"a": {"b": null, "d": 3}})).ok();
        assert_eq!(out, Some(json!({"a": {"c": 2, "d": 3}})));
        let out = apply(
            PatchType::Json,
            &orig,
            &json!([{"op": "replace", "path": "/a/b", "value": 9}]),
        )
        .ok();
        assert_eq!(out, Some(json!({"a": {"b": 9, "c": 2}})));
        assert!(
            apply(
                PatchType::Json,
                &orig,
                &json!([{"op": "test", "path": "/a/b", "value": 0}])
            )
            .is_err()
        );
    }
}
