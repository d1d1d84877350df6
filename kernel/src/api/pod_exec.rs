//! `GET|POST .../pods/{name}/exec`: the API server passes the upgrade request through to
//! the agent of the pod's node ([`super::agent`]) and, once the agent switches protocols,
//! joins the two connections byte for byte, as kube-apiserver's upgrade-aware proxy does
//! for the kubelet. The session itself (a WebSocket of the `channel.k8s.io` protocol) is
//! between the client and the agent; an agent's refusal comes back as a `Status`.

use bytes::Bytes;
use http::{HeaderName, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::agent::{self, PodAgent};
use super::query::Query;
use super::response::Body;
use crate::object::ResourceType;
use crate::registry::{ApiError, Objects, Result};

/// The request headers the agent needs to accept the upgrade.
const FORWARDED: &[HeaderName] = &[
    header::CONNECTION,
    header::UPGRADE,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_PROTOCOL,
];

/// The answer headers the client needs to see the upgrade through.
const RETURNED: &[HeaderName] = &[
    header::CONNECTION,
    header::UPGRADE,
    header::SEC_WEBSOCKET_ACCEPT,
    header::SEC_WEBSOCKET_PROTOCOL,
];

/// Answers an exec request for pod `name`.
pub async fn pod_exec(
    objects: &Objects,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    query: &Query,
    mut req: Request<Incoming>,
) -> Result<Response<Body>> {
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return Err(ApiError::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource: {} pods/exec",
            req.method()
        )));
    }
    if !req.headers().contains_key(header::UPGRADE) {
        return Err(ApiError::BadRequest("Upgrade request required".into()));
    }
    let PodAgent {
        node,
        endpoint,
        container,
    } = agent::locate(objects, rt, ns, name, query.get("container"))?;
    let target = format!(
        "/exec/{}/{name}/{container}?{}",
        ns.unwrap_or("default"),
        req.uri().query().unwrap_or("")
    );
    let stream = tokio::net::TcpStream::connect(&endpoint)
        .await
        .map_err(|e| agent::unreachable(&node, e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| agent::unreachable(&node, e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!("exec connection to an agent: {e}");
        }
    });
    let mut forwarded = Request::builder()
        .method(Method::GET)
        .uri(target)
        .header(header::HOST, &endpoint);
    for name in FORWARDED {
        for value in req.headers().get_all(name) {
            forwarded = forwarded.header(name, value);
        }
    }
    let forwarded = forwarded
        .body(Empty::<Bytes>::new())
        .map_err(|e| ApiError::BadRequest(format!("exec: {e}")))?;
    let answer = sender
        .send_request(forwarded)
        .await
        .map_err(|e| agent::unreachable(&node, e))?;
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(agent::refusal(answer).await);
    }
    let mut switching = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for name in RETURNED {
        for value in answer.headers().get_all(name) {
            switching = switching.header(name, value);
        }
    }
    let agent_side = hyper::upgrade::on(answer);
    let client_side = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let (client, agent) = match (client_side.await, agent_side.await) {
            (Ok(client), Ok(agent)) => (client, agent),
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!("exec upgrade: {e}");
                return;
            }
        };
        let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(agent))
            .await;
    });
    switching
        .body(Full::new(Bytes::new()).boxed())
        .map_err(|e| ApiError::Internal(format!("exec: {e}")))
}
