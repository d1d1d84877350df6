//! The `scale` and `binding` subresources: views and writes over the main
//! object (`status` is a [`super::Part`] of update and patch).

use serde_json::{Value, json};

use super::prepare::Part;
use super::{ApiError, Objects, Result, WriteOptions};
use crate::object::ResourceType;
use crate::object::meta::meta_str;
use crate::object::patch::{self, PatchType};

/// `matchLabels` and `matchExpressions` as a selector string.
fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else { return String::new() };
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        parts.push(match e.get("operator").and_then(Value::as_str) {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("Exists") => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.join(",")
}

/// The autoscaling/v1 `Scale` view of an object.
pub fn scale_of(obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector_string(obj.pointer("/spec/selector")),
        },
    })
}

fn require_scale(rt: &ResourceType) -> Result<()> {
    if rt.scale_subresource {
        Ok(())
    } else {
        Err(ApiError::NoSuchResource(format!(
            "{} has no scale subresource",
            rt.plural
        )))
    }
}

/// The replica count a Scale asks for.
fn wanted_replicas(rt: &ResourceType, name: &str, scale: &Value) -> Result<i64> {
    match scale.pointer("/spec/replicas").and_then(Value::as_i64) {
        Some(r) if r >= 0 => Ok(r),
        Some(_) => Err(ApiError::invalid(
            rt,
            name,
            "spec.replicas",
            "must be greater than or equal to 0",
        )),
        None => Err(ApiError::invalid(
            rt,
            name,
            "spec.replicas",
            "Required value",
        )),
    }
}

impl Objects {
    /// GET `.../scale`.
    pub fn get_scale(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Result<Value> {
        require_scale(rt)?;
        Ok(scale_of(&self.get(rt, ns, name)?))
    }

    /// PUT or PATCH `.../scale`: `change` turns the current Scale into the wanted one.
    pub async fn write_scale(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        change: ScaleChange<'_>,
        opts: WriteOptions,
    ) -> Result<Value> {
        require_scale(rt)?;
        let opts = WriteOptions {
            subresource: Some("scale"),
            ..opts
        };
        let updated = self
            .guaranteed_update(rt, ns, name, None, Part::Main, opts, |current| {
                let cur_scale = scale_of(current);
                let wanted = match &change {
                    ScaleChange::Replace(s) => (*s).clone(),
                    ScaleChange::Patch(kind, p) => patch::apply(*kind, &cur_scale, p)
                        .map_err(|m| ApiError::invalid(rt, name, "patch", m))?,
                };
                let want_rv = meta_str(&wanted, "resourceVersion").filter(|v| !v.is_empty());
                if want_rv.is_some() && want_rv != meta_str(current, "resourceVersion") {
                    return Err(ApiError::conflict(rt, name, super::MODIFIED));
                }
                let replicas = wanted_replicas(rt, name, &wanted)?;
                let mut next = current.clone();
                if let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("replicas".into(), Value::from(replicas));
                } else if let Some(map) = next.as_object_mut() {
                    map.insert("spec".into(), json!({"replicas": replicas}));
                }
                Ok(next)
            })
            .await?;
        Ok(scale_of(&updated))
    }

    /// POST `pods/{name}/binding`: assigns an unassigned pod to a node.
    pub async fn bind(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        binding: &Value,
        opts: WriteOptions,
    ) -> Result<Value> {
        if rt.kind != "Pod" {
            return Err(ApiError::NoSuchResource(format!(
                "{} has no binding subresource",
                rt.plural
            )));
        }
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::invalid(rt, name, "target.name", "Required value"))?
            .to_string();
        let uid = binding
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        let binding = WriteOptions {
            subresource: Some("binding"),
            ..opts
        };
        // One write sets the node and the PodScheduled condition, as Kubernetes' binding does.
        self.guaranteed_update(rt, ns, name, None, Part::Whole, binding, |current| {
            if let Some(uid) = &uid
                && meta_str(current, "uid") != Some(uid.as_str())
            {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(current, "uid").unwrap_or_default()
                    ),
                ));
            }
            if let Some(existing) = current
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    format!("pod {name} is already assigned to node \"{existing}\""),
                ));
            }
            if current.pointer("/metadata/deletionTimestamp").is_some() {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    format!("pod {name} is being deleted, cannot be assigned to a host"),
                ));
            }
            let mut next = current.clone();
            if let Some(map) = next.as_object_mut() {
                let spec = map.entry("spec").or_insert_with(|| json!({}));
                if let Some(spec) = spec.as_object_mut() {
                    spec.insert("nodeName".into(), Value::String(node.clone()));
                }
                set_condition(
                    map.entry("status").or_insert_with(|| json!({})),
                    json!({"type": "PodScheduled", "status": "True",
                           "lastProbeTime": null,
                           "lastTransitionTime": crate::object::meta::now_rfc3339()}),
                );
            }
            Ok(next)
        })
        .await?;
        Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        )
    }
}

/// Puts `condition` in `status.conditions`, replacing the one of its type.
fn set_condition(status: &mut Value, condition: Value) {
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conditions = status
        .entry("conditions")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !conditions.is_array() {
        *conditions = Value::Array(Vec::new());
    }
    if let Some(list) = conditions.as_array_mut() {
        list.retain(|c| c.get("type") != condition.get("type"));
        list.push(condition);
    }
}

/// How a scale write changes the Scale.
pub enum ScaleChange<'a> {
    /// PUT: the wanted Scale.
    Replace(&'a Value),
    /// PATCH: a patch to the current Scale.
    Patch(PatchType, &'a Value),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view() {
        let d = json!({"metadata": {"name": "d", "namespace": "n", "resourceVersion": "7"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}},
            "status": {"replicas": 2}});
        let s = scale_of(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=web,tier in (a,b)");
        assert_eq!(s["metadata"]["resourceVersion"], "7");
    }
}
