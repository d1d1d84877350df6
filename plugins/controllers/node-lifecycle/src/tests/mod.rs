//! Native tests of the node lifecycle controller over a `FakeView`: each file covers one
//! documented behaviour of Kubernetes' node lifecycle controller or taint-based evictions.

mod config;
mod eviction;
mod fixtures;
mod heartbeat;
mod recovery;
mod unreachable;
