//! The calling side of the peer transport: one HTTP/2 client (cleartext, prior
//! knowledge, one multiplexed connection per member, kept alive with pings so
//! a dead link is noticed), with a deadline on every call. openraft's
//! `RaftNetwork` is implemented on it, and so are the calls a member makes to
//! the leader (forwarded writes, read indexes, joining).

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError};
use openraft::error::{Timeout, Unreachable};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RPCTypes};
use serde::{Deserialize, Serialize};

use super::wire::{self, POSTCARD};
use crate::store::types::{NodeId, TypeConfig};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often an idle connection is pinged, and how long a ping may go unanswered.
const KEEPALIVE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(2));

/// Why a call to a member failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No connection could be made: nothing was sent.
    #[error("cannot connect to {0}")]
    Unreachable(String),
    /// No answer in time; the request may have been received.
    #[error("no answer from {0} in time")]
    Timeout(String),
    /// The exchange broke after the request may have been received.
    #[error("{0}")]
    Broken(String),
    /// The member answered, with an error status.
    #[error("{address}{path} answered {status}: {message}")]
    Answered {
        /// The member.
        address: String,
        /// The path called.
        path: String,
        /// The HTTP status.
        status: StatusCode,
        /// The body of the answer.
        message: String,
    },
}

impl CallError {
    /// Whether nothing reached the member (the call may be sent elsewhere).
    pub fn nothing_sent(&self) -> bool {
        matches!(self, CallError::Unreachable(_))
    }
}

/// The HTTP/2 client every peer call goes through; cheap to clone.
#[derive(Clone)]
pub struct Peers {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Peers {
    fn default() -> Self {
        Self::new()
    }
}

impl Peers {
    /// A client with Keel's connect timeout and keep-alive.
    pub fn new() -> Peers {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .timer(TokioTimer::new())
            .http2_keep_alive_interval(KEEPALIVE.0)
            .http2_keep_alive_timeout(KEEPALIVE.1)
            .http2_keep_alive_while_idle(true)
            .build(connector);
        Peers { client }
    }

    /// POSTs `body` (postcard) to `path` on the member at `address` and decodes
    /// its postcard answer, within `deadline`.
    pub async fn call<Req: Serialize, Resp: for<'de> Deserialize<'de>>(
        &self,
        address: &str,
        path: &str,
        body: &Req,
        deadline: Duration,
    ) -> Result<Resp, CallError> {
        let body = wire::encode(body).map_err(CallError::Broken)?;
        let bytes = self
            .exchange(Method::POST, address, path, body, POSTCARD, deadline)
            .await?;
        wire::decode(&bytes).map_err(CallError::Broken)
    }

    /// Sends one request and returns the body of a 200 answer.
    pub async fn exchange(
        &self,
        method: Method,
        address: &str,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        deadline: Duration,
    ) -> Result<Bytes, CallError> {
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{address}{path}"))
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::Broken(format!("building a request to {address}: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    CallError::Unreachable(address.to_string())
                } else {
                    CallError::Broken(format!("calling {address}{path}: {e}"))
                }
            })?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Broken(format!("reading from {address}{path}: {e}")))?
                .to_bytes();
            if status != StatusCode::OK {
                return Err(CallError::Answered {
                    address: address.to_string(),
                    path: path.to_string(),
                    status,
                    message: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
            Ok(bytes)
        };
        tokio::time::timeout(deadline, exchange)
            .await
            .map_err(|_| CallError::Timeout(address.to_string()))?
    }
}

/// openraft's network factory over [`Peers`].
#[derive(Clone)]
pub struct Network {
    peers: Peers,
    me: NodeId,
}

impl Network {
    /// A factory for member `me` whose clients share `peers`.
    pub fn new(peers: Peers, me: NodeId) -> Network {
        Network { peers, me }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            peers: self.peers.clone(),
            me: self.me,
            target,
            address: node.addr.clone(),
        }
    }
}

/// openraft's client for one member.
pub struct PeerClient {
    peers: Peers,
    me: NodeId,
    target: NodeId,
    address: String,
}

impl PeerClient {
    async fn raft_call<Req, Resp, E>(
        &self,
        action: RPCTypes,
        path: &str,
        rpc: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: for<'de> Deserialize<'de>,
        E: std::error::Error + for<'de> Deserialize<'de>,
    {
        let answer: Result<Resp, RaftError<NodeId, E>> = self
            .peers
            .call(&self.address, path, rpc, option.hard_ttl())
            .await
            .map_err(|e| match e {
                CallError::Unreachable(_) => RPCError::Unreachable(Unreachable::new(&e)),
                CallError::Timeout(_) => RPCError::Timeout(Timeout {
                    action,
                    id: self.me,
                    target: self.target,
                    timeout: option.hard_ttl(),
                }),
                CallError::Broken(_) | CallError::Answered { .. } => {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.raft_call(RPCTypes::AppendEntries, wire::APPEND, &rpc, &option)
            .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.raft_call(RPCTypes::InstallSnapshot, wire::SNAPSHOT, &rpc, &option)
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.raft_call(RPCTypes::Vote, wire::VOTE, &rpc, &option)
            .await
    }

    /// After an unreachable member: retry soon, then less often (100 ms doubling to 2 s).
    fn backoff(&self) -> Backoff {
        Backoff::new(
            (0..).map(|n: u32| {
                Duration::from_millis(100u64 << n.min(4)).min(Duration::from_secs(2))
            }),
        )
    }
}
