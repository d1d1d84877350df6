//! Plugin answers as the client sees them: a denial as a Kubernetes `Status` naming the
//! plugin, a warned denial as a `Warning`, a failed call under the plugin's failure policy
//! with a typed reason, a mutation's JSON Patch applied, and a status update checked
//! against the admission cache.

use serde_json::Value;

use crate::client::cache::ObjectCache;
use crate::object::ResourceType;
use crate::object::meta::meta_str;
use crate::object::patch::{self, PatchType};
use crate::plugin::calls::Denial;
use crate::plugin::{CallError, CallErrorKind, Plugin};
use crate::registry::ApiError;
use crate::registry::admission::StatusUpdate;

/// Applies the plugin's failure policy to one call: the answer, `None` for a failure it
/// ignores, or the error the client gets.
pub fn apply_policy<T>(
    plugin: &Plugin,
    answer: Result<T, CallError>,
) -> Result<Option<T>, ApiError> {
    plugin
        .spec()
        .failure_policy
        .apply(answer)
        .map_err(|error| failed(&error))
}

/// A failed call under `failurePolicy: Fail`: a 500 with the failure's own reason
/// (`PluginTimeout`, `PluginTrap`, ...). Kubernetes answers a webhook that failed, timeouts
/// included, with a 500 too. A timeout must not be a 504: clients take a 504 as the server
/// being busy and send the write again (kube-rs, by default, up to 15 times with growing
/// back-off), so one plugin past its deadline held each create for minutes.
pub fn failed(error: &CallError) -> ApiError {
    ApiError::Admission {
        code: 500,
        reason: error.reason().to_string(),
        message: format!(
            "admission plugin \"{}\" failed and its failurePolicy is Fail: {}",
            error.plugin, error.kind
        ),
    }
}

/// An enforced denial: the plugin's code (403 unless it gave another 4xx) and reason, with
/// Kubernetes' wording for the common codes.
pub fn denied(plugin: &Plugin, kind: &ResourceType, name: &str, denial: &Denial) -> ApiError {
    let code = if (400..500).contains(&denial.code) {
        denial.code
    } else {
        403
    };
    let reason = match (denial.reason.as_str(), code) {
        ("", 422) => "Invalid",
        ("", 404) => "NotFound",
        ("", _) => "Forbidden",
        (reason, _) => reason,
    };
    let said = format!(
        "admission plugin \"{}\" denied the request: {}",
        plugin.name(),
        denial.message
    );
    let message = match code {
        403 => format!(
            "{} \"{name}\" is forbidden: {said}",
            kind.qualified_plural()
        ),
        422 => format!("{} \"{name}\" is invalid: {said}", kind.kind),
        _ => said,
    };
    ApiError::Admission {
        code,
        reason: reason.to_string(),
        message,
    }
}

/// A denial under `validationActions: [Warn]`, as the warning the client gets.
pub fn warning(plugin: &Plugin, denial: &Denial) -> String {
    format!(
        "admission plugin \"{}\" would deny the request: {}",
        plugin.name(),
        denial.message
    )
}

/// `current` with a mutation's JSON Patch applied. A patch that does not apply, or that
/// changes the object's identity (name, namespace, uid), is a bad answer.
pub fn patched(plugin: &Plugin, current: &Value, patch_text: &str) -> Result<Value, CallError> {
    let bad = |m: String| CallError {
        plugin: plugin.name().to_string(),
        kind: CallErrorKind::BadAnswer(m),
    };
    let patch: Value =
        serde_json::from_str(patch_text).map_err(|e| bad(format!("the patch is not JSON: {e}")))?;
    let next = patch::apply(PatchType::Json, current, &patch)
        .map_err(|e| bad(format!("the patch does not apply: {e}")))?;
    for field in ["name", "namespace", "uid"] {
        if meta_str(&next, field) != meta_str(current, field) {
            return Err(bad(format!("the patch changes metadata.{field}")));
        }
    }
    if !next.is_object() {
        return Err(bad("the patch leaves no object".into()));
    }
    Ok(next)
}

/// A status update a plugin asked for, checked: the object must be one the cache holds
/// (the update applies to the cached copy, guarded by the revision the plugin read).
pub fn status_update(
    plugin: &Plugin,
    cache: &ObjectCache,
    text: &str,
) -> Result<StatusUpdate, CallError> {
    let bad = |m: String| CallError {
        plugin: plugin.name().to_string(),
        kind: CallErrorKind::BadAnswer(format!("status update: {m}")),
    };
    let wanted: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let kind_name = wanted.get("kind").and_then(Value::as_str).unwrap_or("");
    let group = wanted
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|av| av.split_once('/').map(|(g, _)| g))
        .unwrap_or("");
    let kind = cache
        .kinds()
        .iter()
        .copied()
        .find(|k| k.kind == kind_name && k.group == group)
        .ok_or_else(|| {
            bad(format!(
                "{kind_name:?} is not a kind the admission cache holds"
            ))
        })?;
    let name = meta_str(&wanted, "name").unwrap_or_default();
    let namespace = meta_str(&wanted, "namespace").unwrap_or_default();
    let read_at = meta_str(&wanted, "resourceVersion")
        .ok_or_else(|| bad(format!("{kind_name} {name:?} has no resourceVersion")))?;
    let mut current = cache.object(kind, namespace, name).ok_or_else(|| {
        bad(format!(
            "{kind_name} {namespace}/{name} is not in the cache"
        ))
    })?;
    // Guarded by the revision the plugin read: if the cache has moved on since, the store
    // refuses the write and the chain runs again on the newer state.
    if let Some(meta) = current.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(read_at.to_string()));
    }
    Ok(StatusUpdate {
        kind,
        current,
        status: wanted.get("status").cloned().unwrap_or(Value::Null),
    })
}
