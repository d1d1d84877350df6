//! `agent-bench`: pod start-up on one node. A `keel server` (its scheduler on) and one
//! `keel agent` run as processes; N WASI pods (the test workload, sleeping) are created
//! through the API by a few clients at once, and each pod's latency is from just before
//! its create to its `Running` phase as a watch reports it. Printed: p50 and p99, pods
//! started per second, and the agent's resident memory idle and with the pods running,
//! beside Kubernetes' pod start-up SLO (5 s at p99, without image pulls) and Keel's goal
//! (100 ms at p99, an idle agent under 30 MB).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use keel::client::http::ApiClient;
use keel::client::{RemoteWatcher, WatchEvent};
use keel_bench::memory::resident_bytes;
use keel_bench::writes::{Proc, free_port, keel_binary};
use keel_plugin_artifacts as artifacts;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "WASI pod start-up latency and rate on one node")]
struct Args {
    /// Pods to start.
    #[arg(long, default_value_t = 200)]
    pods: usize,
    /// Clients creating pods at once.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// The keel binary (default: beside this benchmark).
    #[arg(long)]
    keel: Option<std::path::PathBuf>,
}

const IMAGE: &str = "keel.test/workload:v1";

/// The resident memory of process `pid`, in MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    resident_bytes(Some(pid)).map(|b| b as f64 / (1024.0 * 1024.0))
}

async fn wait_for(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{what} did not happen within {timeout:?}")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let keel = keel_binary(args.keel.as_ref())?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let mut server_cmd = Command::new(&keel);
    server_cmd
        .args([
            "server",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("server"));
    let _server = Proc::spawn(server_cmd, &dir.path().join("server.log"), "keel server")?;
    let client = Arc::new(ApiClient::new(&url));
    wait_for("the server serving", Duration::from_secs(60), async || {
        client.get("/readyz").await.is_ok() || client.get("/api/v1/namespaces").await.is_ok()
    })
    .await?;

    let agent_dir = dir.path().join("agent");
    let imported = Command::new(&keel)
        .args(["image", "import-wasm", artifacts::WORKLOAD, "--name", IMAGE])
        .arg("--agent-data-dir")
        .arg(&agent_dir)
        .output()?;
    if !imported.status.success() {
        bail!(
            "image import failed: {}",
            String::from_utf8_lossy(&imported.stderr)
        );
    }
    let mut agent_cmd = Command::new(&keel);
    agent_cmd
        .args([
            "agent",
            "--server",
            &url,
            "--name",
            "bench-node",
            "--agent-listen",
            "127.0.0.1:0",
        ])
        .args(["--max-pods", &(args.pods + 10).to_string()])
        .arg("--agent-data-dir")
        .arg(&agent_dir);
    let agent = Proc::spawn(agent_cmd, &dir.path().join("agent.log"), "keel agent")?;
    wait_for(
        "the node registering",
        Duration::from_secs(30),
        async || client.get("/api/v1/nodes/bench-node").await.is_ok(),
    )
    .await?;
    // Let the agent settle (its first status and lease writes) before measuring it idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_mib(agent.0.id()).context("cannot read the agent's memory")?;

    // Warm the compile cache with one pod, as a node that ran the image before would be.
    let pod = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": IMAGE, "args": ["sleep", "3600000"],
                "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}})
    };
    let running_phase =
        |pod: &Value| pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
    client
        .create("/api/v1/namespaces/default/pods", &pod("warm-up"))
        .await?;
    wait_for(
        "the warm-up pod running",
        Duration::from_secs(60),
        async || {
            client
                .get("/api/v1/namespaces/default/pods/warm-up")
                .await
                .is_ok_and(|p| running_phase(&p))
        },
    )
    .await?;

    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut watcher = RemoteWatcher::new(client.clone(), "/api/v1/namespaces/default/pods", "");
    let wanted = args.pods;
    let seen_created = created.clone();
    let observer = tokio::spawn(async move {
        let mut running: HashMap<String, Instant> = HashMap::new();
        while running.len() < wanted {
            let pods = match watcher.next().await {
                WatchEvent::Applied(pod) => vec![pod],
                WatchEvent::Restarted(pods) => pods,
                _ => continue,
            };
            let now = Instant::now();
            for pod in pods {
                let name = pod
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if name.starts_with("bench-") && running_phase(&pod) && !running.contains_key(name)
                {
                    running.insert(name.to_string(), now);
                }
            }
        }
        running
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let began = Instant::now();
    let mut creators = Vec::new();
    for c in 0..args.clients {
        let client = client.clone();
        let created = created.clone();
        let (pods, clients) = (args.pods, args.clients);
        creators.push(tokio::spawn(async move {
            for i in (c..pods).step_by(clients) {
                let name = format!("bench-{i}");
                created
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(name.clone(), Instant::now());
                client
                    .create("/api/v1/namespaces/default/pods", &pod(&name))
                    .await
                    .map_err(|e| anyhow::anyhow!("creating {name}: {e}"))?;
            }
            anyhow::Ok(())
        }));
    }
    for creator in creators {
        creator.await??;
    }
    let running = tokio::time::timeout(Duration::from_secs(300), observer)
        .await
        .context("not every pod was Running within 5 minutes")??;
    let last = running.values().max().copied().unwrap_or(began);
    let busy = rss_mib(agent.0.id()).unwrap_or(0.0);
    let mut latency = Histogram::<u64>::new(3)?;
    let created = seen_created
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for (name, at) in &running {
        if let Some(start) = created.get(name) {
            latency.record(at.duration_since(*start).as_micros() as u64)?;
        }
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let rate = args.pods as f64 / last.duration_since(began).as_secs_f64();
    println!(
        "agent-bench: {} WASI pods on one node, {} clients creating",
        args.pods, args.clients
    );
    println!(
        "  created -> Running (watch)   p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );
    println!("  pods started per second      {rate:>7.0}");
    println!(
        "  agent memory (RSS)           idle {idle:>5.1} MiB   with {} pods running {busy:>6.1} MiB",
        args.pods + 1
    );
    println!("  anchor: Kubernetes pod start-up SLO, p99 <= 5000 ms (without image pulls)");
    println!("  goal:   p99 < 100 ms for WASI pods; idle agent < 30 MB");
    println!(
        "  reached: p99 {} ; idle memory {}",
        if ms(0.99) < 100.0 { "met" } else { "NOT met" },
        if idle < 30.0 { "met" } else { "NOT met" }
    );
    Ok(())
}
