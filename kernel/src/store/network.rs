//! The Raft network of a single-member cluster: there are no peers, so every
//! RPC answers `Unreachable`. Multi-member transport is its own piece of work
//! (Raft over HTTP/2 on a separate listener) and replaces this factory.

use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::types::{NodeId, TypeConfig};

/// A network with no peers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleMember;

fn no_peer<E: std::error::Error>(target: NodeId) -> RPCError<NodeId, BasicNode, E> {
    let e = std::io::Error::other(format!(
        "node {target} is not reachable: this node runs as a single-member cluster"
    ));
    RPCError::Unreachable(Unreachable::new(&e))
}

/// The client side for one (absent) peer.
#[derive(Debug, Clone, Copy)]
pub struct NoPeer {
    target: NodeId,
}

impl RaftNetworkFactory<TypeConfig> for SingleMember {
    type Network = NoPeer;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> NoPeer {
        NoPeer { target }
    }
}

impl RaftNetwork<TypeConfig> for NoPeer {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(no_peer(self.target))
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(no_peer(self.target))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(no_peer(self.target))
    }
}
