//! The peer listener: its own port, HTTP/2 (and HTTP/1 for operators' tools).
//! openraft's RPCs and the leader-only calls arrive as postcard; membership
//! and status are JSON, for `keel member` and for people.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use serde::Serialize;
use tokio::net::TcpListener;

use super::client::{CallError, Peers};
use super::wire::{self, AddMember, Forward, POSTCARD};
use crate::store::leader::Leader;
use crate::store::membership::{self, MemberError};
use crate::store::types::{NodeId, Raft};

/// The largest body a peer may send (a snapshot chunk is at most 3 MiB; a
/// proposal at most a few MiB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// What the listener needs to answer.
pub struct PeerService {
    /// This member's Raft.
    pub raft: Raft,
    /// Leader-only work.
    pub leader: Leader,
    /// For handing membership changes to the leader.
    pub peers: Peers,
}

/// Serves peers on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, service: Arc<PeerService>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("peer accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let handler = service_fn(move |req| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(service.handle(req).await) }
            });
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), handler)
                .await
            {
                tracing::debug!(%peer, "peer connection ended: {e}");
            }
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    response
}

fn text(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    reply(
        status,
        "text/plain; charset=utf-8",
        message.into().into_bytes(),
    )
}

fn postcard<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match wire::encode(value) {
        Ok(bytes) => reply(StatusCode::OK, POSTCARD, bytes),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn json<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => reply(StatusCode::OK, "application/json", bytes),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Full<Bytes>>> {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(text(
            StatusCode::BAD_REQUEST,
            format!("reading the body: {e}"),
        )),
    }
}

impl PeerService {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        match (&method, path.as_str()) {
            (&Method::POST, wire::APPEND) => {
                self.raft_rpc(
                    req,
                    |raft, rpc| async move { raft.append_entries(rpc).await },
                )
                .await
            }
            (&Method::POST, wire::VOTE) => {
                self.raft_rpc(req, |raft, rpc| async move { raft.vote(rpc).await })
                    .await
            }
            (&Method::POST, wire::SNAPSHOT) => {
                self.raft_rpc(
                    req,
                    |raft, rpc| async move { raft.install_snapshot(rpc).await },
                )
                .await
            }
            (&Method::POST, wire::FORWARD) => match read_body(req).await {
                Ok(body) => match wire::decode::<Forward>(&body) {
                    Ok(proposal) => postcard(&self.leader.propose_here(proposal).await),
                    Err(e) => text(StatusCode::BAD_REQUEST, e),
                },
                Err(r) => r,
            },
            (&Method::POST, wire::READ_INDEX) => postcard(&self.leader.read_index_here().await),
            (&Method::GET, wire::STATUS) => json(&membership::status(&self.raft)),
            (&Method::GET, wire::MEMBERS) => json(&membership::members(&self.raft)),
            (&Method::POST, wire::MEMBERS) => self.add_member(req).await,
            (&Method::DELETE, p) if p.starts_with(wire::MEMBERS) => self.remove_member(p).await,
            _ => text(
                StatusCode::NOT_FOUND,
                format!("no peer endpoint {method} {path}"),
            ),
        }
    }

    async fn raft_rpc<Req, Resp, Fut>(
        &self,
        req: Request<Incoming>,
        call: impl FnOnce(Raft, Req) -> Fut,
    ) -> Response<Full<Bytes>>
    where
        Req: for<'de> serde::Deserialize<'de>,
        Resp: Serialize,
        Fut: std::future::Future<Output = Resp>,
    {
        let body = match read_body(req).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        match wire::decode::<Req>(&body) {
            Ok(rpc) => postcard(&call(self.raft.clone(), rpc).await),
            Err(e) => text(StatusCode::BAD_REQUEST, e),
        }
    }

    async fn add_member(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let body = match read_body(req).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let request: AddMember = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("expected {{\"id\": N, \"address\": \"HOST:PORT\"}}: {e}"),
                );
            }
        };
        match membership::add(&self.raft, &request).await {
            Err(MemberError::NotLeader(Some(leader))) => {
                self.to_leader(&leader, Method::POST, wire::MEMBERS, body.to_vec())
                    .await
            }
            answer => member_answer(answer),
        }
    }

    async fn remove_member(&self, path: &str) -> Response<Full<Bytes>> {
        let id = path
            .strip_prefix(wire::MEMBERS)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|id| id.parse::<NodeId>().ok());
        let Some(id) = id else {
            return text(
                StatusCode::BAD_REQUEST,
                format!("expected DELETE {}/ID, got {path}", wire::MEMBERS),
            );
        };
        match membership::remove(&self.raft, id).await {
            Err(MemberError::NotLeader(Some(leader))) => {
                self.to_leader(&leader, Method::DELETE, path, Vec::new())
                    .await
            }
            answer => member_answer(answer),
        }
    }

    /// Hands an operator's request to the leader and relays its answer.
    async fn to_leader(
        &self,
        leader: &str,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Response<Full<Bytes>> {
        let deadline = membership::CATCH_UP_DEADLINE + std::time::Duration::from_secs(30);
        match self
            .peers
            .exchange(method, leader, path, body, "application/json", deadline)
            .await
        {
            Ok(bytes) => reply(StatusCode::OK, "application/json", bytes.to_vec()),
            // The leader's own refusal, as it gave it.
            Err(CallError::Answered {
                status, message, ..
            }) => text(status, message),
            Err(e) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("via the leader at {leader}: {e}"),
            ),
        }
    }
}

fn member_answer(answer: Result<Vec<wire::Member>, MemberError>) -> Response<Full<Bytes>> {
    match answer {
        Ok(members) => json(&members),
        Err(e @ MemberError::Invalid(_)) => text(StatusCode::CONFLICT, e.to_string()),
        Err(e @ MemberError::NotLeader(None)) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{e}, and no leader is known yet; try again"),
        ),
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
