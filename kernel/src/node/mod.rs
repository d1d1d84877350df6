//! The node agent: what makes a pod bound to a node a running workload. It is a client of
//! the API over HTTP like any other (`keel agent --server URL`, and inside `keel up`):
//!
//! - [`registration`]: the Node object and its status (capacity, conditions, addresses,
//!   where the agent listens); [`lease`]: the heartbeat Lease in `kube-node-lease`.
//! - [`pods`]: one watch of the pods bound here, a [`worker`] per pod, a [`container`]
//!   task per container (restarts with the kubelet's [`backoff`]), [`status`] as the
//!   kubelet reports it, [`mod@env`] as the kubelet builds it, [`spec`] what is read of a pod,
//!   [`probe`] startup, liveness and readiness probes, [`volumes`] emptyDir, ConfigMap,
//!   Secret and hostPath volumes, [`network`] each runc pod's network namespace and
//!   address (from the node's network plugin, on the node's bridge).
//! - [`runtime`]: the runtimes behind one trait, chosen by RuntimeClass handler;
//!   `wasm` (WASI components in wasmtime) is the default, `runc` runs OCI containers.
//!   [`images`]: the node's image store; [`rootfs`]: images unpacked for containers.
//! - [`logs`]: container output in the CRI log format, one file per run; [`server`]: the
//!   agent's endpoint the API server reads logs from and passes [`exec`] sessions to.
//!
//! **Invariant**: the agent writes only through the API (its node, its lease, the status
//! of its pods, and the final removal of a pod it stopped).

pub mod backoff;
pub mod container;
pub mod env;
pub mod exec;
pub mod images;
pub mod lease;
pub mod logs;
pub mod network;
pub mod pods;
pub mod probe;
pub mod registration;
pub mod rootfs;
pub mod runtime;
pub mod server;
pub mod spec;
pub mod status;
pub mod volumes;
pub mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::client::http::ApiClient;
use backoff::BackoffPolicy;
use registration::NodeDescription;
use runtime::Runtimes;

/// How the agent is started.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The API server's URL.
    pub server: String,
    /// The node's name.
    pub name: String,
    /// Where the agent keeps images, logs and compiled code.
    pub data_dir: PathBuf,
    /// Where the agent's endpoint listens (its port is advertised).
    pub listen: SocketAddr,
    /// The address the node advertises (`InternalIP`) and pods get.
    pub address: String,
    /// CPU capacity.
    pub cpu: String,
    /// Memory capacity.
    pub memory: String,
    /// Pod capacity.
    pub pods: u32,
    /// Extra node labels.
    pub labels: Vec<(String, String)>,
    /// Restart back-off.
    pub backoff: BackoffPolicy,
    /// The lease's duration.
    pub lease_duration: Duration,
    /// How often the lease is renewed.
    pub renew_every: Duration,
    /// How often the node status is posted.
    pub status_every: Duration,
    /// The `runc` binary for OCI containers; the node offers no `runc` handler when it
    /// does not run.
    pub runc: PathBuf,
}

impl AgentConfig {
    /// Kubernetes' defaults for a node named `name` served by `server`, keeping its data
    /// in `data_dir`.
    pub fn new(server: &str, name: &str, data_dir: PathBuf) -> AgentConfig {
        AgentConfig {
            server: server.to_string(),
            name: name.to_string(),
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 10250)),
            address: "127.0.0.1".into(),
            cpu: std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .to_string(),
            memory: "8Gi".into(),
            pods: 110,
            labels: Vec::new(),
            backoff: BackoffPolicy::default(),
            lease_duration: Duration::from_secs(40),
            renew_every: Duration::from_secs(10),
            status_every: Duration::from_secs(60),
            runc: PathBuf::from("runc"),
        }
    }
}

/// What every pod worker shares.
pub struct Node {
    /// The API client.
    pub client: Arc<ApiClient>,
    /// The node's name.
    pub name: String,
    /// The node's address, which pods share.
    pub address: String,
    /// The runtimes.
    pub runtimes: Runtimes,
    /// Where container logs go.
    pub logs_root: PathBuf,
    /// Restart back-off.
    pub backoff: BackoffPolicy,
    /// The pods' networks.
    pub networks: network::PodNetworks,
    /// The running containers, for exec.
    pub exec_targets: Arc<exec::targets::ExecTargets>,
}

/// Runs the agent until `shutdown` completes: registers the node, then keeps its lease,
/// its status and its pods.
pub async fn run(
    config: AgentConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let images = Arc::new(images::ImageStore::open(&config.data_dir.join("images"))?);
    let wasm =
        runtime::wasm::WasmRuntime::new(images.clone(), Some(config.data_dir.join("compiled")))?;
    let mut offered: Vec<Arc<dyn runtime::Runtime>> = vec![Arc::new(wasm)];
    match runtime::runc::RuncRuntime::new(&config.runc, &config.data_dir, images.clone()) {
        Ok(runc) => offered.push(Arc::new(runc)),
        Err(error) => tracing::warn!("no runc runtime on this node: {error}"),
    }
    let runtimes = Runtimes::new(offered);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("agent endpoint {}: {e}", config.listen))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("agent endpoint: {e}"))?
        .port();
    let client = Arc::new(ApiClient::new(&config.server));
    let description = NodeDescription {
        name: config.name.clone(),
        address: config.address.clone(),
        port,
        cpu: config.cpu.clone(),
        memory: config.memory.clone(),
        pods: config.pods,
        labels: config.labels.clone(),
        handlers: runtimes.handlers(),
    };
    let registered = register_until_done(&client, &description).await;
    let node_uid = registered
        .pointer("/metadata/uid")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    tracing::info!(node = %config.name, port, "node registered");
    let logs_root = config.data_dir.join("pods");
    let exec_targets = Arc::new(exec::targets::ExecTargets::default());
    let node = Arc::new(Node {
        client: client.clone(),
        name: config.name.clone(),
        address: config.address.clone(),
        runtimes,
        logs_root: logs_root.clone(),
        backoff: config.backoff,
        networks: network::PodNetworks::new(
            client.clone(),
            &config.name,
            &config.data_dir.join("network"),
        )?,
        exec_targets: exec_targets.clone(),
    });
    let status = post_status_forever(&client, &description, registered, config.status_every);
    let lease = lease::renew_forever(
        &client,
        &config.name,
        &node_uid,
        config.lease_duration,
        config.renew_every,
    );
    tokio::select! {
        () = shutdown => {}
        () = status => {}
        () = lease => {}
        () = pods::follow(node) => {}
        () = server::serve(listener, logs_root, exec_targets) => {}
    }
    Ok(())
}

async fn register_until_done(
    client: &ApiClient,
    description: &NodeDescription,
) -> serde_json::Value {
    loop {
        match registration::register(client, description).await {
            Ok(node) => return node,
            Err(error) => {
                tracing::warn!(node = %description.name, "cannot register the node: {error}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn post_status_forever(
    client: &ApiClient,
    description: &NodeDescription,
    mut current: serde_json::Value,
    every: Duration,
) {
    loop {
        match registration::post_status(client, description, &current).await {
            Ok(node) => current = node,
            Err(error) => {
                tracing::warn!(node = %description.name, "cannot post node status: {error}")
            }
        }
        tokio::time::sleep(every).await;
    }
}
