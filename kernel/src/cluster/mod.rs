//! Starting a Keel server (one member of a cluster of one or more): open the
//! store, wait until it has caught up with its cluster, create what every
//! cluster starts with (the `default`, `kube-system`, `kube-public` and
//! `kube-node-lease` namespaces), and serve the API until shutdown. `keel
//! server` and `keel up` both run this, with the plugin catalog following
//! `Plugin` objects on every member and the scheduler and controllers on the
//! leader ([`hosts`]).

pub mod hosts;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tokio::net::TcpListener;

use crate::admission::AdmissionChain;
use crate::catalog::Catalog;
use crate::catalog::install::{self, PluginSeed};
use crate::catalog::sync::CatalogSync;
use crate::controller::ControllerHost;
use crate::plugin::PluginHost;
use crate::registry::admission::Admission;
use crate::registry::{ApiError, Objects, WriteOptions};
use crate::scheduler::SchedulerConfig;
use crate::store::{
    DEFAULT_ELECTION_TIMEOUT, DEFAULT_HEARTBEAT, DEFAULT_SNAPSHOT_EVERY, DEFAULT_WATCH_HISTORY,
    Formation, NodeId, Store, StoreConfig,
};
use hosts::LeaderHosts;

/// Namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// How a server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the store keeps its data.
    pub data_dir: PathBuf,
    /// The API's listen address.
    pub listen: SocketAddr,
    /// Events kept for watch resumption.
    pub watch_history: usize,
    /// Entries between snapshots.
    pub snapshot_every: u64,
    /// Plugins to create when absent.
    pub plugins: Vec<PluginSeed>,
    /// Admission in place of the plugin chain, for embedders (and benchmarks) that admit
    /// writes their own way; `None` runs the catalog's admission plugins.
    pub admission: Option<CustomAdmission>,
    /// The scheduler to run beside the API, with the catalog's scheduler plugins; `None`
    /// runs none.
    pub scheduler: Option<SchedulerConfig>,
    /// This member's place in its cluster.
    pub membership: MemberConfig,
}

/// How a server takes part in a cluster.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// Its Raft id, unique in the cluster.
    pub id: NodeId,
    /// Where it listens for peers; `None` for a single member that will not grow.
    pub peer_listen: Option<SocketAddr>,
    /// The peer address others reach it at (default: the peer listener's address).
    pub advertise: Option<String>,
    /// How it finds its cluster on first start.
    pub formation: Formation,
    /// The leader's heartbeat interval.
    pub heartbeat: std::time::Duration,
    /// The election timeout (lower bound; the upper is twice it).
    pub election_timeout: std::time::Duration,
}

impl Default for MemberConfig {
    fn default() -> Self {
        MemberConfig {
            id: 1,
            peer_listen: None,
            advertise: None,
            formation: Formation::Single,
            heartbeat: DEFAULT_HEARTBEAT,
            election_timeout: DEFAULT_ELECTION_TIMEOUT,
        }
    }
}

/// An admission step given by the embedder.
#[derive(Clone)]
pub struct CustomAdmission(pub Arc<dyn Admission>);

impl std::fmt::Debug for CustomAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomAdmission")
    }
}

impl ServerConfig {
    /// A server over `data_dir` listening on `listen`, with the default history, snapshot
    /// interval and no plugins.
    pub fn new(data_dir: PathBuf, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            data_dir,
            listen,
            watch_history: DEFAULT_WATCH_HISTORY,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            plugins: Vec::new(),
            admission: None,
            scheduler: None,
            membership: MemberConfig::default(),
        }
    }
}

/// A running server's handles.
#[derive(Clone)]
pub struct Running {
    /// The address the API listens on (the real port when asked for 0).
    pub addr: SocketAddr,
    /// The verbs, for in-process clients.
    pub objects: Objects,
    /// The live plugins.
    pub catalog: Arc<Catalog>,
    /// The scheduler and controllers, which run while this member leads.
    pub hosts: Arc<LeaderHosts>,
}

impl Running {
    /// The controller host (the catalog's controller plugins at work), while this
    /// member leads.
    pub fn controllers(&self) -> Option<Arc<ControllerHost>> {
        self.hosts.controllers()
    }
}

/// How long a starting member keeps trying to reach its cluster.
const JOIN_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Runs `step` until it succeeds or fails with something other than "unavailable"
/// (no leader yet, a cluster still forming), for at most [`JOIN_WAIT`].
async fn until_available<T, E, F, Fut>(what: &str, mut step: F) -> anyhow::Result<T>
where
    E: Into<anyhow::Error>,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + JOIN_WAIT;
    loop {
        let e: anyhow::Error = match step().await {
            Ok(v) => return Ok(v),
            Err(e) => e.into(),
        };
        let unavailable = e
            .chain()
            .any(|c| matches!(c.downcast_ref::<ApiError>(), Some(ApiError::Unavailable(_))));
        if !unavailable || tokio::time::Instant::now() >= deadline {
            return Err(e.context(what.to_string()));
        }
        tracing::info!("{what}: {e:#}; trying again");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Creates the system namespaces that are missing.
pub async fn bootstrap(objects: &Objects) -> Result<(), ApiError> {
    let Some(ns) = objects.kinds().by_path("", "v1", "namespaces") else {
        return Err(ApiError::Internal("namespaces are not served".into()));
    };
    for name in SYSTEM_NAMESPACES {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                          "spec": {"finalizers": ["kubernetes"]}});
        match objects
            .create(ns, None, body, WriteOptions::default())
            .await
        {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How long the server waits for the plugins it was started with before serving anyway.
const SEED_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Waits until every seeded plugin serves (or [`SEED_WAIT`] passes), so the API never
/// answers a write before the admission plugins it was started with are in the chain.
async fn wait_for_seeds(catalog: &Catalog, seeds: &[PluginSeed]) {
    for seed in seeds {
        if !catalog.wait_for(&seed.name, |_| true, SEED_WAIT).await {
            tracing::warn!(
                plugin = seed.name,
                "plugin not serving after {SEED_WAIT:?}; serving the API without it (see kubectl get plugin {})",
                seed.name
            );
        }
    }
}

/// Opens the store, bootstraps, binds the listener and serves until
/// `shutdown`; `ready` gets the running handles once requests are served.
pub async fn run(
    config: ServerConfig,
    ready: impl FnOnce(&Running),
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let member = &config.membership;
    let mut store_config = StoreConfig::new(&config.data_dir);
    store_config.node_id = member.id;
    store_config.advertise = member
        .advertise
        .clone()
        .or_else(|| member.peer_listen.map(|a| a.to_string()))
        .unwrap_or_else(|| config.listen.to_string());
    store_config.peer_listen = member.peer_listen;
    store_config.formation = member.formation.clone();
    store_config.heartbeat = member.heartbeat;
    store_config.election_timeout = member.election_timeout;
    store_config.watch_history = config.watch_history;
    store_config.snapshot_every = config.snapshot_every;
    let store = Store::open(&store_config).await?;
    let objects = Objects::new(store.clone());
    until_available("catching up with the cluster", || async {
        store.linearize().await.map_err(ApiError::from)
    })
    .await?;
    until_available("creating the system namespaces", || bootstrap(&objects)).await?;
    until_available("creating the seeded plugins", || {
        install::install(&objects, &config.plugins)
    })
    .await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let catalog = Catalog::new();
    let host = Arc::new(PluginHost::new(Some(config.data_dir.join("plugin-cache"))));
    let sync = CatalogSync::new(
        objects.clone(),
        host,
        catalog.clone(),
        config.listen.to_string(),
    )?;
    let catalog_task = tokio::spawn(sync.run());
    match &config.admission {
        Some(CustomAdmission(admission)) => {
            objects.set_admission(admission.clone());
        }
        None => {
            AdmissionChain::install(&objects, catalog.clone());
        }
    }
    wait_for_seeds(&catalog, &config.plugins).await;
    let hosts = Arc::new(LeaderHosts::start(
        objects.clone(),
        catalog.clone(),
        config.scheduler.clone(),
        store.leadership(),
    ));
    let running = Running {
        addr: listener.local_addr()?,
        objects: objects.clone(),
        catalog,
        hosts: hosts.clone(),
    };
    tracing::info!(addr = %running.addr, peer = ?store.peer_addr(), member = store.id(), data_dir = %config.data_dir.display(), revision = store.revision(), "serving the API");
    ready(&running);
    crate::api::serve(listener, objects, shutdown).await;
    hosts.stop();
    catalog_task.abort();
    store.shutdown().await;
    Ok(())
}

/// A server running on this process's tokio runtime (tests, benchmarks, embedding).
pub struct InProcess {
    /// Its handles.
    pub running: Running,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcess {
    /// Starts a server and waits until it serves.
    pub async fn start(config: ServerConfig) -> anyhow::Result<InProcess> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(
            config,
            move |running| {
                let _ = ready_tx.send(running.clone());
            },
            async move {
                let _ = stopped.await;
            },
        ));
        match ready_rx.await {
            Ok(running) => Ok(InProcess {
                running,
                stop,
                task,
            }),
            Err(_) => Err(task
                .await?
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the server ended before serving"))),
        }
    }

    /// Stops the server and waits until its store is closed.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}
