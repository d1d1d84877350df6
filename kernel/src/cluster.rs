//! Starting a Keel server: open the store, create what every cluster starts
//! with (the `default`, `kube-system`, `kube-public` and `kube-node-lease`
//! namespaces), and serve the API until shutdown. `keel server` and
//! `keel up` both run this, with the plugin catalog following `Plugin` objects; later
//! hosts (scheduler, controllers, agent) are started beside it as clients of the same API.

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
use crate::scheduler::{CatalogPlugins, Scheduler, SchedulerConfig};
use crate::store::{DEFAULT_SNAPSHOT_EVERY, DEFAULT_WATCH_HISTORY, Store, StoreConfig};

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
    /// The controller host (the catalog's controller plugins at work).
    pub controllers: Arc<ControllerHost>,
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
    let mut store_config = StoreConfig::new(&config.data_dir);
    store_config.advertise = config.listen.to_string();
    store_config.watch_history = config.watch_history;
    store_config.snapshot_every = config.snapshot_every;
    let store = Store::open(&store_config).await?;
    let objects = Objects::new(store.clone());
    bootstrap(&objects).await?;
    install::install(&objects, &config.plugins).await?;
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
    let scheduler = match &config.scheduler {
        Some(scheduler) => Some(Scheduler::start(
            objects.clone(),
            Arc::new(CatalogPlugins::new(catalog.clone())),
            scheduler.clone(),
        )?),
        None => None,
    };
    let controllers = Arc::new(ControllerHost::start(objects.clone(), catalog.clone()));
    let running = Running {
        addr: listener.local_addr()?,
        objects: objects.clone(),
        catalog,
        controllers: controllers.clone(),
    };
    tracing::info!(addr = %running.addr, data_dir = %config.data_dir.display(), revision = store.revision(), "serving the API");
    ready(&running);
    crate::api::serve(listener, objects, shutdown).await;
    if let Some(scheduler) = scheduler {
        scheduler.stop();
    }
    controllers.abort();
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
