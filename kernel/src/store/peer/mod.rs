//! How members talk: Raft's RPCs, forwarded proposals, read indexes and
//! membership changes over HTTP/2 on a listener of their own, apart from the
//! Kubernetes API. [`wire`] is what travels, [`client`] calls, [`server`]
//! answers.

pub mod client;
pub mod server;
pub mod wire;
