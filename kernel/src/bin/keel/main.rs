//! The `keel` command: run a server (one member of a cluster), a whole single-node
//! cluster, a node agent, write a kubeconfig, manage plugins, images or the cluster's
//! members.

mod agent;
mod member;
mod plugin;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use keel::cluster::{self, MemberConfig, ServerConfig};
use keel::store::Formation;

#[derive(Parser)]
#[command(
    name = "keel",
    version,
    about = "Keel: a container orchestrator whose policy is WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server and its replicated store.
    Server(ServerArgs),
    /// Run a whole single-node cluster in one process and write a kubeconfig for it.
    Up {
        #[command(flatten)]
        server: ServerArgs,
        /// Where to write the kubeconfig (default: $KUBECONFIG or ~/.kube/config).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Replace a kubeconfig that keel did not write.
        #[arg(long)]
        force: bool,
        /// Run no node agent (pods are scheduled but never run).
        #[arg(long)]
        no_agent: bool,
        #[command(flatten)]
        agent: Box<agent::AgentArgs>,
    },
    /// Run a node agent: register a node and run the pods bound to it.
    Agent {
        /// The API server's URL.
        #[arg(long, env = "KEEL_SERVER", default_value = "http://127.0.0.1:6443")]
        server: String,
        #[command(flatten)]
        agent: agent::AgentArgs,
    },
    /// Manage a node's images (run where the agent runs).
    Image {
        /// The agent's data directory.
        #[arg(long, default_value = "keel-agent", global = true)]
        agent_data_dir: PathBuf,
        #[command(subcommand)]
        command: agent::ImageCommand,
    },
    /// Write a kubeconfig that points kubectl at a Keel server.
    Kubeconfig {
        /// The server's URL.
        #[arg(long, default_value = "http://127.0.0.1:6443")]
        server: String,
        /// Where to write it (default: $KUBECONFIG or ~/.kube/config; `-` for stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace a kubeconfig that keel did not write.
        #[arg(long)]
        force: bool,
    },
    /// Manage plugins: push modules, list Plugins, show history, roll back.
    Plugin {
        /// The server's URL.
        #[arg(
            long,
            env = "KEEL_SERVER",
            default_value = "http://127.0.0.1:6443",
            global = true
        )]
        server: String,
        #[command(subcommand)]
        command: plugin::PluginCommand,
    },
    /// List, add and remove the members of a cluster.
    Member {
        /// Any member's peer address (HOST:PORT, its --peer-listen).
        #[arg(
            long,
            env = "KEEL_PEER",
            default_value = "127.0.0.1:6480",
            global = true
        )]
        peer: String,
        #[command(subcommand)]
        command: member::MemberCommand,
    },
}

#[derive(Args, Clone)]
struct ServerArgs {
    /// Where the store keeps its data.
    #[arg(long, default_value = "keel-data")]
    data_dir: PathBuf,
    /// Address the API listens on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Events kept so watches can resume from an older resourceVersion.
    #[arg(long, default_value_t = keel::store::DEFAULT_WATCH_HISTORY)]
    watch_history: usize,
    /// Log entries between state machine snapshots.
    #[arg(long, default_value_t = keel::store::DEFAULT_SNAPSHOT_EVERY)]
    snapshot_every: u64,
    /// A plugin to create at start unless it exists: NAME=TYPE[/WEIGHT]:PATH (repeatable).
    #[arg(long = "plugin", value_name = "NAME=TYPE[/WEIGHT]:PATH")]
    plugins: Vec<keel::catalog::install::PluginSeed>,
    /// Further spec fields for a `--plugin` (YAML or JSON: a controller's `controller`
    /// section, `config`, `limits`): NAME=FILE (repeatable).
    #[arg(long = "plugin-spec", value_name = "NAME=FILE")]
    plugin_specs: Vec<String>,
    /// Run no scheduler (pods stay Pending unless another scheduler binds them).
    #[arg(long)]
    no_scheduler: bool,
    /// The `spec.schedulerName` the scheduler serves (pods that leave it unset too).
    #[arg(long, default_value = keel::scheduler::writes::COMPONENT)]
    scheduler_name: String,
    /// Kubernetes' percentageOfNodesToScore (1-100); unset adapts it to the cluster's size.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    percentage_of_nodes_to_score: Option<u32>,
    #[command(flatten)]
    member: MemberArgs,
}

/// This server's place in a cluster of members.
#[derive(Args, Clone)]
struct MemberArgs {
    /// This member's id, unique in its cluster.
    #[arg(long, default_value_t = 1)]
    id: u64,
    /// Where to listen for the other members (Raft, forwarded writes, `keel member`).
    /// Without it the server is a single member that cannot grow.
    #[arg(long, value_name = "ADDR")]
    peer_listen: Option<SocketAddr>,
    /// The peer address the other members reach this one at (default: --peer-listen).
    #[arg(long, value_name = "HOST:PORT")]
    advertise_peer: Option<String>,
    /// Form a new cluster of these members on first start: ID=HOST:PORT,... (their peer
    /// addresses), the same list on every member.
    #[arg(long, value_name = "ID=HOST:PORT,...", conflicts_with = "join")]
    initial_members: Option<String>,
    /// Join the cluster of the member with this peer address on first start.
    #[arg(long, value_name = "HOST:PORT")]
    join: Option<String>,
    /// The leader's heartbeat interval, in milliseconds.
    #[arg(long, default_value_t = 100)]
    heartbeat_ms: u64,
    /// The election timeout in milliseconds: a follower that hears no leader stands for
    /// election after the leader's lease (twice this) plus a random time between this and
    /// twice this.
    #[arg(long, default_value_t = 250)]
    election_timeout_ms: u64,
}

impl MemberArgs {
    fn config(&self) -> anyhow::Result<MemberConfig> {
        let formation = match (&self.initial_members, &self.join) {
            (Some(list), _) => Formation::parse_initial(list)
                .map_err(|e| anyhow::anyhow!("--initial-members: {e}"))?,
            (None, Some(seed)) => Formation::Join(seed.clone()),
            (None, None) => Formation::Single,
        };
        if formation != Formation::Single && self.peer_listen.is_none() {
            anyhow::bail!("--initial-members and --join need --peer-listen");
        }
        if self.heartbeat_ms == 0 || self.election_timeout_ms <= self.heartbeat_ms {
            anyhow::bail!(
                "--election-timeout-ms ({}) must be greater than --heartbeat-ms ({}), which must not be 0",
                self.election_timeout_ms,
                self.heartbeat_ms
            );
        }
        Ok(MemberConfig {
            id: self.id,
            peer_listen: self.peer_listen,
            advertise: self.advertise_peer.clone(),
            formation,
            heartbeat: std::time::Duration::from_millis(self.heartbeat_ms),
            election_timeout: std::time::Duration::from_millis(self.election_timeout_ms),
        })
    }
}

impl ServerArgs {
    fn config(&self) -> anyhow::Result<ServerConfig> {
        let mut plugins = self.plugins.clone();
        for spec in &self.plugin_specs {
            keel::catalog::install::PluginSeed::add_spec(&mut plugins, spec)
                .map_err(anyhow::Error::msg)?;
        }
        Ok(ServerConfig {
            watch_history: self.watch_history,
            snapshot_every: self.snapshot_every,
            plugins,
            scheduler: (!self.no_scheduler).then(|| keel::scheduler::SchedulerConfig {
                name: self.scheduler_name.clone(),
                percentage_of_nodes_to_score: self.percentage_of_nodes_to_score,
            }),
            membership: self.member.config()?,
            ..ServerConfig::new(self.data_dir.clone(), self.listen)
        })
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

fn write_kubeconfig(out: Option<PathBuf>, url: &str, force: bool) -> anyhow::Result<()> {
    if out.as_deref() == Some(std::path::Path::new("-")) {
        print!("{}", keel::kubeconfig::render(url));
        return Ok(());
    }
    let path = out
        .or_else(keel::kubeconfig::default_path)
        .context("no HOME or KUBECONFIG: pass --out")?;
    keel::kubeconfig::write(&path, url, force).map_err(anyhow::Error::msg)?;
    eprintln!("wrote {} (context keel, server {url})", path.display());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log redirected to a file stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Server(args) => cluster::run(args.config()?, |_| {}, shutdown_signal()).await,
        Command::Up {
            server,
            kubeconfig,
            force,
            no_agent,
            agent,
        } => {
            let url = format!("http://{}", server.listen);
            let agent_dir = server.data_dir.join("agent");
            let agent = (!no_agent)
                .then(|| agent.config(&url, agent_dir))
                .transpose()?;
            let announce = move |running: &cluster::Running| {
                let url = format!("http://{}", running.addr);
                if let Some(mut agent) = agent {
                    agent.server = url.clone();
                    tokio::spawn(async move {
                        if let Err(e) = keel::node::run(agent, std::future::pending()).await {
                            tracing::error!("the node agent stopped: {e}");
                        }
                    });
                }
                match write_kubeconfig(kubeconfig, &url, force) {
                    Ok(()) => eprintln!("keel is up at {url}: try `kubectl get namespaces`"),
                    Err(e) => {
                        eprintln!("keel is up at {url}, but the kubeconfig was not written: {e:#}")
                    }
                }
            };
            cluster::run(server.config()?, announce, shutdown_signal()).await
        }
        Command::Agent { server, agent } => keel::node::run(
            agent.config(&server, "keel-agent".into())?,
            shutdown_signal(),
        )
        .await
        .map_err(anyhow::Error::msg),
        Command::Image {
            agent_data_dir,
            command,
        } => agent::image(&agent_data_dir, command),
        Command::Kubeconfig { server, out, force } => write_kubeconfig(out, &server, force),
        Command::Plugin { server, command } => plugin::run(&server, command).await,
        Command::Member { peer, command } => member::run(&peer, command).await,
    }
}
