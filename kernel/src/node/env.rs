//! A container's environment, as the kubelet builds it: `envFrom` sources first, then
//! `env` entries in order (later ones win), each a `value` (with `$(VAR)` references to
//! earlier variables expanded) or read from the pod's own fields, a ConfigMap or a Secret.
//! A ConfigMap or Secret (or key) that is missing and not `optional` is the kubelet's
//! `CreateContainerConfigError`.

use base64::Engine as _;
use serde_json::Value;

use crate::client::http::{ApiClient, HttpError};

/// A pod's addresses, as the downward API gives them.
#[derive(Debug, Clone, Default)]
pub struct PodIps {
    /// `status.podIP`.
    pub pod: String,
    /// `status.hostIP`: the node's.
    pub host: String,
}

/// The environment of one container, in order.
pub async fn resolve(
    client: &ApiClient,
    pod: &Value,
    container: &Value,
    ips: &PodIps,
) -> Result<Vec<(String, String)>, String> {
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, name: String, value: String| {
        env.retain(|(n, _)| *n != name);
        env.push((name, value));
    };
    for source in list(container, "envFrom") {
        let prefix = source.get("prefix").and_then(Value::as_str).unwrap_or("");
        let (kind, reference) = match (source.get("configMapRef"), source.get("secretRef")) {
            (Some(r), _) => (Kind::ConfigMap, r),
            (None, Some(r)) => (Kind::Secret, r),
            (None, None) => continue,
        };
        let Some(data) = read_source(client, namespace, kind, reference).await? else {
            continue;
        };
        for (key, value) in data {
            set(&mut env, format!("{prefix}{key}"), text(value));
        }
    }
    for entry in list(container, "env") {
        let Some(name) = entry.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = match (entry.get("value"), entry.get("valueFrom")) {
            (Some(Value::String(value)), _) => Some(expand(value, &env)),
            (_, Some(from)) => value_from(client, pod, namespace, from, ips).await?,
            _ => Some(String::new()),
        };
        if let Some(value) = value {
            set(&mut env, name.to_string(), value);
        }
    }
    Ok(env)
}

/// Where values come from.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A ConfigMap.
    ConfigMap,
    /// A Secret.
    Secret,
}

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configmap",
            Kind::Secret => "secret",
        }
    }
}

fn list<'a>(value: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

async fn value_from(
    client: &ApiClient,
    pod: &Value,
    namespace: &str,
    from: &Value,
    ips: &PodIps,
) -> Result<Option<String>, String> {
    if let Some(field) = from.pointer("/fieldRef/fieldPath").and_then(Value::as_str) {
        return Ok(Some(pod_field(pod, field, ips)));
    }
    for (kind, key) in [
        (Kind::ConfigMap, "configMapKeyRef"),
        (Kind::Secret, "secretKeyRef"),
    ] {
        let Some(reference) = from.get(key) else {
            continue;
        };
        let wanted = reference.get("key").and_then(Value::as_str).unwrap_or("");
        let optional = reference
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let Some(data) = read_source(client, namespace, kind, reference).await? else {
            return Ok(None);
        };
        return match data.into_iter().find(|(k, _)| k == wanted) {
            Some((_, value)) => Ok(Some(text(value))),
            None if optional => Ok(None),
            None => Err(format!(
                "couldn't find key {wanted} in {} {namespace}/{}",
                kind.name(),
                reference.get("name").and_then(Value::as_str).unwrap_or("")
            )),
        };
    }
    Ok(None)
}

/// A value read as environment text.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The data of the ConfigMap or Secret `reference` names, key by key (a ConfigMap's
/// `data` and `binaryData`; a Secret's `data`, decoded, and `stringData`); `None` when it
/// is missing and `optional`.
pub async fn read_source(
    client: &ApiClient,
    namespace: &str,
    kind: Kind,
    reference: &Value,
) -> Result<Option<Vec<(String, Vec<u8>)>>, String> {
    let name = reference
        .get("name")
        .or_else(|| reference.get("secretName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let optional = reference
        .get("optional")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let path = format!("/api/v1/namespaces/{namespace}/{}/{name}", kind.plural());
    let object = match client.get(&path).await {
        Ok(object) => object,
        Err(HttpError::Status { code: 404, .. }) if optional => return Ok(None),
        Err(HttpError::Status { code: 404, .. }) => {
            return Err(format!("{} {name:?} not found", kind.name()));
        }
        Err(e) => return Err(format!("reading {} {name:?}: {e}", kind.name())),
    };
    let decode = |key: &str, text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("{} {name:?} key {key}: {e}", kind.name()))
    };
    let mut data = Vec::new();
    let entries = |field: &str| -> Vec<(String, String)> {
        match object.get(field) {
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect(),
            _ => Vec::new(),
        }
    };
    match kind {
        Kind::ConfigMap => {
            for (key, value) in entries("data") {
                data.push((key, value.into_bytes()));
            }
            for (key, value) in entries("binaryData") {
                let bytes = decode(&key, &value)?;
                data.push((key, bytes));
            }
        }
        Kind::Secret => {
            for (key, value) in entries("data") {
                let bytes = decode(&key, &value)?;
                data.push((key, bytes));
            }
            for (key, value) in entries("stringData") {
                data.push((key, value.into_bytes()));
            }
        }
    }
    Ok(Some(data))
}

/// A field of the pod, as the downward API gives it.
fn pod_field(pod: &Value, path: &str, ips: &PodIps) -> String {
    let text = |pointer: &str| {
        pod.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if let Some(key) = path
        .strip_prefix("metadata.labels['")
        .and_then(|k| k.strip_suffix("']"))
    {
        return text(&format!("/metadata/labels/{}", key.replace('/', "~1")));
    }
    if let Some(key) = path
        .strip_prefix("metadata.annotations['")
        .and_then(|k| k.strip_suffix("']"))
    {
        return text(&format!("/metadata/annotations/{}", key.replace('/', "~1")));
    }
    match path {
        "status.podIP" => ips.pod.clone(),
        "status.hostIP" => ips.host.clone(),
        "spec.serviceAccountName" => {
            let account = text("/spec/serviceAccountName");
            if account.is_empty() {
                "default".into()
            } else {
                account
            }
        }
        _ => text(&format!("/{}", path.replace('.', "/"))),
    }
}

/// `$(NAME)` replaced by an earlier variable's value; `$$` is a literal `$`; a reference
/// to an unknown variable stays as written, as the kubelet leaves it.
fn expand(value: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after
            .strip_prefix('(')
            .and_then(|inner| inner.split_once(')'))
        {
            match env.iter().rev().find(|(n, _)| n == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_expand_as_the_kubelet_does() {
        let env = vec![("A".to_string(), "one".to_string())];
        assert_eq!(expand("x-$(A)-$(B)-$$(A)", &env), "x-one-$(B)-$(A)");
        assert_eq!(expand("cost $5", &env), "cost $5");
    }

    #[test]
    fn pod_fields_read_as_the_downward_api_gives_them() {
        let pod = json!({"metadata": {"name": "web", "namespace": "ns",
            "labels": {"app.kubernetes.io/name": "web"}}, "spec": {"nodeName": "n1"}});
        let ips = PodIps {
            pod: "10.244.0.7".into(),
            host: "192.0.2.2".into(),
        };
        let none = PodIps::default();
        assert_eq!(pod_field(&pod, "metadata.name", &none), "web");
        assert_eq!(pod_field(&pod, "spec.nodeName", &none), "n1");
        assert_eq!(pod_field(&pod, "status.podIP", &ips), "10.244.0.7");
        assert_eq!(pod_field(&pod, "status.hostIP", &ips), "192.0.2.2");
        assert_eq!(
            pod_field(&pod, "metadata.labels['app.kubernetes.io/name']", &none),
            "web"
        );
        assert_eq!(pod_field(&pod, "spec.serviceAccountName", &none), "default");
    }
}
