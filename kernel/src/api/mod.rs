//! The Kubernetes-compatible HTTP API: routing, discovery, OpenAPI, tables,
//! watch streams and `Status` errors over the verbs in [`crate::registry`].
//! Nothing here touches the store except through those verbs (and the watch
//! hub for streaming); `pods/log` is read from the node agent (`pod_log`) and `pods/exec`
//! sessions are passed through to it (`pod_exec`), both found by `agent`.

mod agent;
mod body;
mod discovery;
mod handler;
mod openapi;
mod pod_exec;
mod pod_log;
mod query;
mod response;
mod route;
mod server;
mod table;
mod watch;

pub use server::serve;
