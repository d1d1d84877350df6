//! `GET .../pods/{name}/log`: the API server reads a container's log from the agent of the
//! pod's node (the Node's `InternalIP` and `daemonEndpoints.kubeletEndpoint.Port`) and
//! streams it back, as kube-apiserver proxies to the kubelet. The container is the one
//! `container` names, or the pod's only container.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::query::Query;
use super::response::Body;
use crate::object::ResourceType;
use crate::registry::{ApiError, Objects, Result};

/// The query parameters passed on to the agent.
const PASSED_ON: &[&str] = &[
    "follow",
    "previous",
    "timestamps",
    "tailLines",
    "limitBytes",
    "sinceTime",
    "sinceSeconds",
];

/// Answers a log request for pod `name`.
pub async fn pod_log(
    objects: &Objects,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    query: &Query,
) -> Result<Response<Body>> {
    let pod = objects.get(rt, ns, name)?;
    let container = container(&pod, name, query.get("container"))?;
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("pod {name} does not have a host assigned")))?;
    let nodes = objects
        .kinds()
        .by_path("", "v1", "nodes")
        .ok_or_else(|| ApiError::Internal("nodes are not served".into()))?;
    let node_object = objects.get(nodes, None, node)?;
    let endpoint = agent_endpoint(&node_object).ok_or_else(|| {
        ApiError::Unavailable(format!(
            "node {node:?} has no agent endpoint (no InternalIP and kubelet port in its status)"
        ))
    })?;
    let mut target = format!(
        "http://{endpoint}/containerLogs/{}/{name}/{container}",
        ns.unwrap_or("default")
    );
    let passed: Vec<(&str, &str)> = PASSED_ON
        .iter()
        .filter_map(|key| Some((*key, query.get(key)?)))
        .collect();
    if !passed.is_empty() {
        target.push('?');
        target.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(passed)
                .finish(),
        );
    }
    proxy(&target, node).await
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
fn agent_client() -> &'static Client<HttpConnector, http_body_util::Empty<Bytes>> {
    static CLIENT: std::sync::OnceLock<Client<HttpConnector, http_body_util::Empty<Bytes>>> =
        std::sync::OnceLock::new();
    CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build_http())
}

/// GETs `target` and streams the answer back; an agent's error becomes a `Status`.
async fn proxy(target: &str, node: &str) -> Result<Response<Body>> {
    let unreachable =
        |e: String| ApiError::Unavailable(format!("cannot reach the agent of node {node:?}: {e}"));
    let uri: http::Uri = target.parse().map_err(|e| unreachable(format!("{e}")))?;
    let response = agent_client()
        .get(uri)
        .await
        .map_err(|e| unreachable(format!("{e:#}")))?;
    let status = response.status();
    if !status.is_success() {
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = String::from_utf8_lossy(&body).trim().to_string();
        return Err(match status {
            StatusCode::NOT_FOUND => ApiError::NoSuchResource(message),
            StatusCode::BAD_REQUEST => ApiError::BadRequest(message),
            _ => ApiError::Internal(message),
        });
    }
    let stream = futures::stream::unfold(response.into_body(), |mut body| async move {
        match body.frame().await {
            Some(Ok(frame)) => Some((Ok::<_, Infallible>(frame), body)),
            _ => None,
        }
    });
    let mut answer = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    Ok(answer)
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
