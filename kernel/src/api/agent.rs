//! Reaching the agent of a pod's node, for the subresources the kubelet serves (`log`,
//! `exec`): the pod's container (the one named, or its only one), the agent's endpoint
//! (the Node's `InternalIP` and `daemonEndpoints.kubeletEndpoint.Port`), one pooled client
//! for plain requests, and an agent's error answer as an API error.

use bytes::Bytes;
use http::StatusCode;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::object::ResourceType;
use crate::registry::{ApiError, Objects, Result};

/// Where a pod's container is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodAgent {
    /// The pod's node.
    pub node: String,
    /// `host:port` of its agent.
    pub endpoint: String,
    /// The container.
    pub container: String,
}

/// The agent serving container `wanted` (or the only container) of pod `name`.
pub fn locate(
    objects: &Objects,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    wanted: Option<&str>,
) -> Result<PodAgent> {
    let pod = objects.get(rt, ns, name)?;
    let container = container(&pod, name, wanted)?.to_string();
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("pod {name} does not have a host assigned")))?
        .to_string();
    let nodes = objects
        .kinds()
        .by_path("", "v1", "nodes")
        .ok_or_else(|| ApiError::Internal("nodes are not served".into()))?;
    let node_object = objects.get(nodes, None, &node)?;
    let endpoint = agent_endpoint(&node_object).ok_or_else(|| {
        ApiError::Unavailable(format!(
            "node {node:?} has no agent endpoint (no InternalIP and kubelet port in its status)"
        ))
    })?;
    Ok(PodAgent {
        node,
        endpoint,
        container,
    })
}

/// The container to read: the one named, or the only one.
fn container<'a>(pod: &'a Value, name: &str, wanted: Option<&'a str>) -> Result<&'a str> {
    let names: Vec<&str> = ["initContainers", "containers"]
        .iter()
        .flat_map(|field| {
            pod.pointer(&format!("/spec/{field}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let main: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    match wanted.filter(|w| !w.is_empty()) {
        Some(wanted) if names.contains(&wanted) => Ok(wanted),
        Some(wanted) => Err(ApiError::BadRequest(format!(
            "container {wanted} is not valid for pod {name}"
        ))),
        None => match main.as_slice() {
            [only] => Ok(only),
            _ => Err(ApiError::BadRequest(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                main.join(" ")
            ))),
        },
    }
}

/// `host:port` of the agent on `node`.
fn agent_endpoint(node: &Value) -> Option<String> {
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .filter(|p| *p > 0)?;
    let address = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)?
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))?
        .get("address")?
        .as_str()?;
    Some(if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    })
}

/// The one client the API server reads agents through, so connections to an agent are
/// kept and reused.
pub fn client() -> &'static Client<HttpConnector, http_body_util::Empty<Bytes>> {
    static CLIENT: std::sync::OnceLock<Client<HttpConnector, http_body_util::Empty<Bytes>>> =
        std::sync::OnceLock::new();
    CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build_http())
}

/// The API error for an agent's refusal, read whole.
pub async fn refusal(answer: http::Response<hyper::body::Incoming>) -> ApiError {
    use http_body_util::BodyExt;
    let status = answer.status();
    let body = answer
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    agent_error(status, &body)
}

/// The API error for an agent's answer `status` with text `body`.
fn agent_error(status: StatusCode, body: &[u8]) -> ApiError {
    let message = String::from_utf8_lossy(body).trim().to_string();
    match status {
        StatusCode::NOT_FOUND => ApiError::NoSuchResource(message),
        StatusCode::BAD_REQUEST => ApiError::BadRequest(message),
        _ => ApiError::Internal(message),
    }
}

/// The error for an agent that cannot be reached.
pub fn unreachable(node: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("cannot reach the agent of node {node:?}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_container_is_the_one_named_or_the_only_one() {
        let one = json!({"spec": {"containers": [{"name": "app"}]}});
        assert_eq!(container(&one, "p", None).ok(), Some("app"));
        let two = json!({"spec": {"initContainers": [{"name": "setup"}],
            "containers": [{"name": "a"}, {"name": "b"}]}});
        let refused = container(&two, "p", None);
        assert!(
            matches!(&refused, Err(ApiError::BadRequest(m)) if m.contains("choose one of: [a b]")),
            "{refused:?}"
        );
        assert_eq!(container(&two, "p", Some("setup")).ok(), Some("setup"));
        assert!(container(&two, "p", Some("c")).is_err());
    }

    #[test]
    fn the_agent_is_found_from_the_node_status() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}});
        assert_eq!(agent_endpoint(&node).as_deref(), Some("10.0.0.5:10250"));
        assert_eq!(agent_endpoint(&json!({"status": {}})), None);
    }
}
