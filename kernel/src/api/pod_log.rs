//! `GET .../pods/{name}/log`: the API server reads a container's log from the agent of the
//! pod's node ([`super::agent`]) and streams it back, as kube-apiserver proxies to the
//! kubelet. The container is the one `container` names, or the pod's only container.

use std::convert::Infallible;

use http::{Response, header};
use http_body_util::{BodyExt, StreamBody};

use super::agent::{self, PodAgent};
use super::query::Query;
use super::response::Body;
use crate::object::ResourceType;
use crate::registry::{Objects, Result};

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
    let PodAgent {
        node,
        endpoint,
        container,
    } = agent::locate(objects, rt, ns, name, query.get("container"))?;
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
    proxy(&target, &node).await
}

/// GETs `target` and streams the answer back; an agent's error becomes a `Status`.
async fn proxy(target: &str, node: &str) -> Result<Response<Body>> {
    let uri: http::Uri = target.parse().map_err(|e| agent::unreachable(node, e))?;
    let response = agent::client()
        .get(uri)
        .await
        .map_err(|e| agent::unreachable(node, format!("{e:#}")))?;
    if !response.status().is_success() {
        return Err(agent::refusal(response).await);
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
