//! `controller-bench`: reconcile throughput. A Deployment of 1,000 replicas (objects only,
//! no agents) is created in-process with the default Deployment and ReplicaSet controller
//! plugins running as WASM; the figure is the time from the create to the last of its
//! pods created, with the controllers' time split between plugin calls and API writes.
//! There is no published kube-controller-manager figure for this in the anchors; the
//! closest is its ReplicaSet controller's burst of 500 creates per sync with slow start.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use keel::catalog::install::PluginSeed;
use keel::client::{WatchEvent, Watcher};
use keel::cluster::{InProcess, ServerConfig};
use keel::controller::ControllerStatsSnapshot;
use keel::registry::WriteOptions;
use keel_plugin_artifacts as artifacts;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "A Deployment of N replicas to fully created pods, through WASM controllers")]
struct Args {
    /// The Deployment's replicas.
    #[arg(long, default_value_t = 1000)]
    replicas: usize,
}

fn seed(name: &str, path: &str) -> Result<PluginSeed> {
    let mut seeds = vec![
        format!("{name}=controller:{path}")
            .parse::<PluginSeed>()
            .map_err(anyhow::Error::msg)?,
    ];
    let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/plugins")
        .join(format!("{name}.yaml"));
    PluginSeed::add_spec(&mut seeds, &format!("{name}={}", spec.display()))
        .map_err(anyhow::Error::msg)?;
    seeds.pop().context("no seed")
}

fn print_split(name: &str, stats: Option<ControllerStatsSnapshot>) {
    let Some(s) = stats else {
        println!("  {name:<11} did not run");
        return;
    };
    let per_call = s.plugin_time.as_secs_f64() * 1e6 / s.reconciles.max(1) as f64;
    println!(
        "  {name:<11} {:>5} reconciles  {:>6} actions  {:>3} races   plugin calls {:>8.1} ms ({per_call:.0} µs/call)   API writes {:>8.1} ms",
        s.reconciles,
        s.actions,
        s.races,
        s.plugin_time.as_secs_f64() * 1e3,
        s.write_time.as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new(dir.path().join("data"), "127.0.0.1:0".parse()?);
    config.plugins = vec![
        seed("deployment", artifacts::DEPLOYMENT)?,
        seed("replicaset", artifacts::REPLICASET)?,
    ];
    let server = InProcess::start(config).await?;
    let running = server.running.clone();
    let kind = |group: &str, plural: &str| {
        running
            .objects
            .kinds()
            .by_path(group, "v1", plural)
            .with_context(|| format!("{plural} are not served"))
    };
    let (pods, deployments) = (kind("", "pods")?, kind("apps", "deployments")?);
    // Let both controllers' caches list before the clock starts.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let wanted = args.replicas;
    let mut watcher = Watcher::new(running.objects.clone(), pods);
    let counter = tokio::spawn(async move {
        let mut seen = std::collections::HashSet::new();
        while seen.len() < wanted {
            let batch = match watcher.next().await {
                WatchEvent::Applied(pod) => vec![pod],
                WatchEvent::Restarted(list) => list,
                _ => continue,
            };
            for pod in batch {
                if let Some(name) = pod.pointer("/metadata/name").and_then(Value::as_str) {
                    seen.insert(name.to_string());
                }
            }
        }
        Instant::now()
    });
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {"replicas": args.replicas, "selector": {"matchLabels": {"app": "bench"}},
            "template": {"metadata": {"labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}});
    let start = Instant::now();
    running
        .objects
        .create(
            deployments,
            Some("default"),
            deployment,
            WriteOptions::default(),
        )
        .await?;
    let done = tokio::time::timeout(Duration::from_secs(600), counter)
        .await
        .context("not every pod was created within 10 minutes")??;
    let took = done.duration_since(start);
    println!(
        "controller-bench: Deployment of {} replicas to {} pods created: {:.2} s ({:.0} pods/s)",
        args.replicas,
        args.replicas,
        took.as_secs_f64(),
        args.replicas as f64 / took.as_secs_f64()
    );
    println!(
        "  anchor: none published for kube-controller-manager (its ReplicaSet controller creates at most 500 pods per sync, in slow-start batches)"
    );
    // An answer's actions are counted once all of it is applied: let the controllers settle
    // (no counter moving for 300 ms) before reading them.
    let counters = || {
        (
            running.controllers().and_then(|c| c.stats("deployment")),
            running.controllers().and_then(|c| c.stats("replicaset")),
        )
    };
    let mut last = counters();
    let mut still = 0;
    while still < 3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counters();
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    print_split("deployment", last.0);
    print_split("replicaset", last.1);
    server.stop().await
}
