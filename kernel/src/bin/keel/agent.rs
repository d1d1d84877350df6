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
    /// Memory capacity.
    #[arg(long, default_value = "8Gi")]
    pub memory: String,
    /// How many pods the node takes.
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
    /// A node label KEY=VALUE (repeatable).
    #[arg(long = "node-label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The first restart back-off of a crashing container, in milliseconds (it doubles
    /// up to --crash-backoff-max-ms).
    #[arg(long, default_value_t = 10_000)]
    pub crash_backoff_ms: u64,
    /// The longest restart back-off, in milliseconds.
    #[arg(long, default_value_t = 300_000)]
    pub crash_backoff_max_ms: u64,
    /// How often the node lease is renewed, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub lease_renew_ms: u64,
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
        if self.crash_backoff_ms == 0 || self.crash_backoff_max_ms < self.crash_backoff_ms {
            anyhow::bail!("--crash-backoff-ms must be above 0 and at most --crash-backoff-max-ms");
        }
        let data_dir = self.agent_data_dir.clone().unwrap_or(default_dir);
        let defaults = AgentConfig::new(server, &name, data_dir);
        Ok(AgentConfig {
            listen: self.agent_listen,
            address: self.node_address.clone(),
            cpu: self.cpu.clone().unwrap_or(defaults.cpu.clone()),
            memory: self.memory.clone(),
            pods: self.max_pods,
            labels,
            backoff: BackoffPolicy {
                initial: Duration::from_millis(self.crash_backoff_ms),
                max: Duration::from_millis(self.crash_backoff_max_ms),
            },
            renew_every: Duration::from_millis(self.lease_renew_ms.max(100)),
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
