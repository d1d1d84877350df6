//! `keel agent`: the node agent's flags, and `keel image import|ls` on a node's image store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use keel::node::AgentConfig;
use keel::node::backoff::BackoffPolicy;
use keel::node::images::ImageStore;

/// How a node agent runs.
#[derive(Args, Clone)]
pub struct AgentArgs {
    /// The node's name (default: this machine's host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Where the agent keeps images, logs and compiled code (default: `keel-agent`, or
    /// `agent` in the server's data directory for `keel up`).
    #[arg(long)]
    pub agent_data_dir: Option<PathBuf>,
    /// Where the agent's endpoint (logs) listens; port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:10250")]
    pub agent_listen: SocketAddr,
    /// The address the node advertises (InternalIP).
    #[arg(long, default_value = "127.0.0.1")]
    pub node_address: String,
    /// CPU capacity (default: this machine's cores).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Memory capacity (default: 8Gi).
    #[arg(long)]
    pub memory: Option<String>,
    /// How many pods the node takes (default: 110, as the kubelet's).
    #[arg(long)]
    pub max_pods: Option<u32>,
    /// A node label KEY=VALUE (repeatable).
    #[arg(long = "node-label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The first restart back-off of a crashing container, in milliseconds (default 10 s,
    /// as the kubelet's; it doubles up to --crash-backoff-max-ms).
    #[arg(long)]
    pub crash_backoff_ms: Option<u64>,
    /// The longest restart back-off, in milliseconds (default 5 min).
    #[arg(long)]
    pub crash_backoff_max_ms: Option<u64>,
    /// How often the node lease is renewed, in milliseconds (default 10 s).
    #[arg(long)]
    pub lease_renew_ms: Option<u64>,
    /// The runc binary OCI containers run with; without it the node offers only the
    /// `wasm` runtime.
    #[arg(long, default_value = "runc")]
    pub runc: PathBuf,
}

impl AgentArgs {
    /// The agent's configuration, for a node served by `server`, keeping its data in
    /// `default_dir` unless the flag says where.
    pub fn config(&self, server: &str, default_dir: PathBuf) -> anyhow::Result<AgentConfig> {
        let name = match &self.name {
            Some(name) => name.clone(),
            None => host_name()?,
        };
        let mut labels = Vec::new();
        for label in &self.labels {
            let (key, value) = label
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--node-label {label:?}: expected KEY=VALUE"))?;
            labels.push((key.to_string(), value.to_string()));
        }
        let data_dir = self.agent_data_dir.clone().unwrap_or(default_dir);
        let defaults = AgentConfig::new(server, &name, data_dir);
        let millis =
            |flag: Option<u64>, default: Duration| flag.map_or(default, Duration::from_millis);
        let backoff = BackoffPolicy {
            initial: millis(self.crash_backoff_ms, defaults.backoff.initial),
            max: millis(self.crash_backoff_max_ms, defaults.backoff.max),
        };
        if backoff.initial.is_zero() || backoff.max < backoff.initial {
            anyhow::bail!("--crash-backoff-ms must be above 0 and at most --crash-backoff-max-ms");
        }
        Ok(AgentConfig {
            listen: self.agent_listen,
            address: self.node_address.clone(),
            cpu: self.cpu.clone().unwrap_or(defaults.cpu.clone()),
            memory: self.memory.clone().unwrap_or(defaults.memory.clone()),
            pods: self.max_pods.unwrap_or(defaults.pods),
            labels,
            backoff,
            renew_every: millis(self.lease_renew_ms, defaults.renew_every)
                .max(Duration::from_millis(100)),
            runc: self.runc.clone(),
            ..defaults
        })
    }
}

fn host_name() -> anyhow::Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|n| n.trim().to_lowercase())
        .unwrap_or_default();
    if name.is_empty() {
        anyhow::bail!("cannot tell this machine's host name: pass --name");
    }
    Ok(name)
}

/// `keel image ...`.
#[derive(Subcommand)]
pub enum ImageCommand {
    /// Copy the images of an OCI image layout directory into the node's store.
    Import {
        /// The layout directory.
        dir: PathBuf,
        /// The name to give the image (the layout must hold one); default: the name in
        /// the layout's index.
        #[arg(long)]
        name: Option<String>,
    },
    /// Store a WebAssembly component file as an image (a wasm OCI artifact).
    ImportWasm {
        /// The component file.
        file: PathBuf,
        /// The image's name (`keel.test/app:v1`).
        #[arg(long)]
        name: String,
    },
    /// List the node's images.
    Ls,
}

/// Runs an image command on the store under `agent_data_dir`.
pub fn image(agent_data_dir: &std::path::Path, command: ImageCommand) -> anyhow::Result<()> {
    let store = ImageStore::open(&agent_data_dir.join("images")).map_err(anyhow::Error::msg)?;
    match command {
        ImageCommand::Import { dir, name } => {
            for imported in store
                .import(&dir, name.as_deref())
                .map_err(anyhow::Error::msg)?
            {
                println!("imported {imported}");
            }
        }
        ImageCommand::ImportWasm { file, name } => {
            let module =
                std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let imported = store
                .import_wasm(&module, &name)
                .map_err(anyhow::Error::msg)?;
            println!("imported {imported}");
        }
        ImageCommand::Ls => {
            for (name, digest) in store.list().map_err(anyhow::Error::msg)? {
                println!("{name}\t{digest}");
            }
        }
    }
    Ok(())
}
