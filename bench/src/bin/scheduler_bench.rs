//! `scheduler-bench`: a scheduler_perf-like run (SchedulingBasic): nodes as objects only,
//! then pods with requests created through the HTTP API by concurrent clients while the
//! scheduler binds them. Prints pods bound per second end to end (first create sent to
//! last binding seen), p50/p99 scheduling latency (create sent to binding seen), where
//! the time goes (cycle and bind times, plugin calls, when the creates were answered, CPU
//! by thread), and the same run with the default plugins compiled natively: the
//! WASM/native ratio. Each kind runs `--rounds` times and the median run is shown.
//! Anchor: kube-scheduler's scheduler_perf SchedulingBasic 5000Nodes_10000Pods
//! threshold, 680 pods/s.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::Full;
use keel::catalog::install::PluginSeed;
use keel::client::{WatchEvent, Watcher};
use keel::cluster::{InProcess, ServerConfig};
use keel::plugin::PluginType;
use keel::registry::WriteOptions;
use keel::scheduler::{CatalogPlugins, PluginSet, Scheduler, SchedulerConfig, SchedulingPlugin};
use keel_bench::idle::Idle;
use keel_bench::native::{FixedSet, Native, Timed};
use keel_plugin_artifacts as artifacts;
use serde_json::{Value, json};

/// kube-scheduler's scheduler_perf SchedulingBasic 5000Nodes_10000Pods threshold.
const ANCHOR_PODS_PER_SECOND: f64 = 680.0;
/// The goals.
const GOAL_PODS_PER_SECOND: f64 = 10_000.0;
const GOAL_RATIO: f64 = 1.3;

#[derive(Parser)]
#[command(about = "Pods bound per second over many nodes, WASM plugins against native")]
struct Args {
    /// Nodes (objects only).
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    /// Pods created through the API.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Concurrent API clients creating pods.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// percentageOfNodesToScore (unset: adaptive, 10% at 5,000 nodes).
    #[arg(long)]
    percentage: Option<u32>,
    /// Only the WASM run.
    #[arg(long)]
    wasm_only: bool,
    /// Runs of each kind; the median run (by pods per second) is the one shown. Runs on
    /// a 2-core machine vary by up to a third, so one run says little.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Hold the cores out of their idle states for the run (`keel_bench::idle`); by default
    /// they idle as the machine is configured.
    #[arg(long)]
    awake: bool,
}

/// The default plugins: name, score weight, component.
const PLUGINS: &[(&str, u32, &str)] = &[
    ("node-unschedulable", 1, artifacts::NODE_UNSCHEDULABLE),
    ("node-name", 1, artifacts::NODE_NAME),
    ("taint-toleration", 3, artifacts::TAINT_TOLERATION),
    ("node-affinity", 2, artifacts::NODE_AFFINITY),
    ("node-resources", 1, artifacts::NODE_RESOURCES),
    ("pod-topology-spread", 2, artifacts::POD_TOPOLOGY_SPREAD),
    ("inter-pod-affinity", 2, artifacts::INTER_POD_AFFINITY),
    ("balanced-allocation", 1, artifacts::BALANCED_ALLOCATION),
];

/// The default plugins compiled natively, each with its call timer.
type NativeSet = Vec<(Arc<dyn SchedulingPlugin>, Arc<dyn Timed>)>;

fn native<T: keel_sdk::scheduler::Scheduler + Send + 'static>(
    name: &str,
) -> Result<(Arc<dyn SchedulingPlugin>, Arc<dyn Timed>)> {
    let weight = PLUGINS.iter().find(|p| p.0 == name).map_or(1, |p| p.1);
    let plugin = Arc::new(Native::<T>::new(name, weight)?);
    Ok((plugin.clone(), plugin))
}

fn native_set() -> Result<NativeSet> {
    use keel_plugin_balanced_allocation::BalancedAllocation;
    use keel_plugin_inter_pod_affinity::InterPodAffinity;
    use keel_plugin_node_affinity::NodeAffinity;
    use keel_plugin_node_name::NodeName;
    use keel_plugin_node_resources::NodeResources;
    use keel_plugin_node_unschedulable::NodeUnschedulable;
    use keel_plugin_pod_topology_spread::PodTopologySpread;
    use keel_plugin_taint_toleration::TaintToleration;
    Ok(vec![
        native::<NodeUnschedulable>("node-unschedulable")?,
        native::<NodeName>("node-name")?,
        native::<TaintToleration>("taint-toleration")?,
        native::<NodeAffinity>("node-affinity")?,
        native::<NodeResources>("node-resources")?,
        native::<PodTopologySpread>("pod-topology-spread")?,
        native::<InterPodAffinity>("inter-pod-affinity")?,
        native::<BalancedAllocation>("balanced-allocation")?,
    ])
}

/// What one run measured.
struct Figures {
    pods_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    mean_cycle_micros: f64,
    mean_bind_millis: f64,
    per_plugin_micros: Vec<(String, f64)>,
    /// Pods per second of every run of this kind, slowest first (the median is shown).
    rounds: Vec<f64>,
    /// From the first create sent to the last create answered, and to the last binding seen.
    creates_seconds: f64,
    last_bound_seconds: f64,
    /// CPU time while pods were created and bound.
    cpu: keel_bench::cpu::Usage,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let idle = if args.awake { Idle::Awake } else { Idle::Sleep };
    let _held = idle.hold().map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!(
            "scheduler-bench: {} nodes, {} pods (cpu 100m, memory 500Mi each), {} API clients, percentageOfNodesToScore {}, {}",
            args.nodes,
            args.pods,
            args.clients,
            args.percentage.map_or("adaptive".to_string(), |p| format!("{p}%")),
            idle.describe()
        );
        let wasm = median_of(&args, true).await?;
        print("wasm", &wasm);
        let native = if args.wasm_only {
            None
        } else {
            let native = median_of(&args, false).await?;
            print("native", &native);
            Some(native)
        };
        println!();
        println!(
            "anchor (kube-scheduler scheduler_perf SchedulingBasic 5000Nodes_10000Pods threshold): {ANCHOR_PODS_PER_SECOND:.0} pods/s"
        );
        println!(
            "keel wasm: {:.0} pods/s = {:.1}x the anchor (goal {GOAL_PODS_PER_SECOND:.0} pods/s: {})",
            wasm.pods_per_second,
            wasm.pods_per_second / ANCHOR_PODS_PER_SECOND,
            met(wasm.pods_per_second >= GOAL_PODS_PER_SECOND)
        );
        if let Some(native) = native {
            let throughput = native.pods_per_second / wasm.pods_per_second;
            let cycle = wasm.mean_cycle_micros / native.mean_cycle_micros;
            println!(
                "wasm/native: {throughput:.2}x end to end, the same run natively (native {:.0} pods/s; goal at most {GOAL_RATIO}: {}); {cycle:.2}x per scheduling cycle alone",
                native.pods_per_second,
                met(throughput <= GOAL_RATIO)
            );
        }
        anyhow::Ok(())
    })
}

/// `args.rounds` runs; the median by pods per second, with every run's figure.
async fn median_of(args: &Args, wasm: bool) -> Result<Figures> {
    let mut runs = Vec::new();
    for _ in 0..args.rounds.max(1) {
        runs.push(run(args, wasm).await?);
    }
    runs.sort_by(|a, b| a.pods_per_second.total_cmp(&b.pods_per_second));
    let all: Vec<f64> = runs.iter().map(|r| r.pods_per_second).collect();
    let mut median = runs.swap_remove(runs.len() / 2);
    median.rounds = all;
    Ok(median)
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn print(label: &str, f: &Figures) {
    println!(
        "{label:>6}: {:>8.0} pods/s   latency p50 {:>8.1} ms  p99 {:>8.1} ms   cycle {:>6.1} µs   bind {:>6.1} ms",
        f.pods_per_second, f.p50_ms, f.p99_ms, f.mean_cycle_micros, f.mean_bind_millis
    );
    let plugins: Vec<String> = f
        .per_plugin_micros
        .iter()
        .map(|(name, micros)| format!("{name} {micros:.1}"))
        .collect();
    println!("        per call µs: {}", plugins.join(", "));
    let rounds: Vec<String> = f.rounds.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "        median of {} runs (pods/s: {}); creates answered by {:.2} s, last pod bound at {:.2} s",
        f.rounds.len(),
        rounds.join(", "),
        f.creates_seconds,
        f.last_bound_seconds
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let busiest: Vec<String> = f
        .cpu
        .by_thread
        .iter()
        .take(6)
        .map(|(name, s)| format!("{name} {s:.2}"))
        .collect();
    println!(
        "        cpu: {:.2} s in {:.2} s ({:.0}% of {cores} cores), by thread: {}",
        f.cpu.total(),
        f.cpu.wall_seconds,
        f.cpu.busy_percent(cores),
        busiest.join(", ")
    );
}

async fn run(args: &Args, wasm: bool) -> Result<Figures> {
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new(dir.path().join("data"), "127.0.0.1:0".parse()?);
    if wasm {
        config.plugins = PLUGINS
            .iter()
            .map(|(name, weight, path)| PluginSeed {
                name: name.to_string(),
                plugin_type: PluginType::Scheduler,
                path: path.into(),
                weight: Some(*weight),
                spec: None,
            })
            .collect();
    }
    let server = InProcess::start(config).await?;
    let running = server.running.clone();
    create_nodes(&running.objects, args.nodes).await?;

    let natives = if wasm { Vec::new() } else { native_set()? };
    let set: Arc<dyn PluginSet> = if wasm {
        Arc::new(CatalogPlugins::new(running.catalog.clone()))
    } else {
        let set: Vec<Arc<dyn SchedulingPlugin>> = natives.iter().map(|(p, _)| p.clone()).collect();
        Arc::new(FixedSet(Arc::from(set)))
    };
    let scheduler = Scheduler::start(
        running.objects.clone(),
        set,
        SchedulerConfig {
            percentage_of_nodes_to_score: args.percentage,
            ..SchedulerConfig::default()
        },
    )?;
    // Let the scheduler's node watcher take in every node before pods arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let bound = Arc::new(Mutex::new(HashMap::<String, Instant>::new()));
    let pods_kind = running
        .objects
        .kinds()
        .by_path("", "v1", "pods")
        .context("no pods")?;
    let recorder = {
        let bound = bound.clone();
        let mut watcher = Watcher::new(running.objects.clone(), pods_kind);
        let wanted = args.pods;
        tokio::spawn(async move {
            loop {
                let pods = match watcher.next().await {
                    WatchEvent::Applied(pod) => vec![pod],
                    WatchEvent::Restarted(pods) => pods,
                    _ => continue,
                };
                let now = Instant::now();
                let mut bound = bound.lock().unwrap_or_else(PoisonError::into_inner);
                for pod in pods {
                    let node = pod.pointer("/spec/nodeName").and_then(Value::as_str);
                    let name = pod.pointer("/metadata/name").and_then(Value::as_str);
                    if let (Some(_), Some(name)) = (node, name) {
                        bound.entry(name.to_string()).or_insert(now);
                    }
                }
                if bound.len() >= wanted {
                    return;
                }
            }
        })
    };

    let cpu_before = keel_bench::cpu::Sample::now();
    let sent = create_pods(running.addr.port(), args.pods, args.clients).await?;
    let created = Instant::now();
    let first = sent.values().min().copied().context("no pods sent")?;
    tokio::time::timeout(Duration::from_secs(600), recorder)
        .await
        .context("not every pod was bound within 10 minutes")??;
    let cpu = keel_bench::cpu::Sample::now().since(&cpu_before);
    let bound = std::mem::take(&mut *bound.lock().unwrap_or_else(PoisonError::into_inner));
    let last = bound.values().max().copied().context("nothing bound")?;
    let mut latency = Histogram::<u64>::new(3)?;
    for (name, at) in &bound {
        if let Some(sent) = sent.get(name) {
            latency.record(at.saturating_duration_since(*sent).as_micros() as u64)?;
        }
    }
    let stats = scheduler.stats().clone();
    let cycles = stats.cycles.load(Ordering::Relaxed).max(1) as f64;
    let binds = (stats.bound.load(Ordering::Relaxed) + stats.bind_failures.load(Ordering::Relaxed))
        .max(1) as f64;
    let per_plugin_micros = if wasm {
        PLUGINS
            .iter()
            .filter_map(|(name, _, _)| {
                let plugin = running.catalog.current(name)?;
                Some((
                    name.to_string(),
                    plugin.stats().snapshot().mean_micros as f64,
                ))
            })
            .collect()
    } else {
        natives
            .iter()
            .map(|(p, timed)| (p.name().to_string(), timed.mean_micros()))
            .collect()
    };
    let figures = Figures {
        pods_per_second: bound.len() as f64 / last.duration_since(first).as_secs_f64(),
        creates_seconds: created.duration_since(first).as_secs_f64(),
        last_bound_seconds: last.duration_since(first).as_secs_f64(),
        p50_ms: latency.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: latency.value_at_quantile(0.99) as f64 / 1000.0,
        mean_cycle_micros: stats.cycle_nanos.load(Ordering::Relaxed) as f64 / cycles / 1000.0,
        mean_bind_millis: stats.bind_nanos.load(Ordering::Relaxed) as f64 / binds / 1e6,
        per_plugin_micros,
        cpu,
        rounds: Vec::new(),
    };
    if stats.errors.load(Ordering::Relaxed) > 0 || stats.unschedulable.load(Ordering::Relaxed) > 0 {
        bail!(
            "{} cycles failed and {} found no node: the run is not SchedulingBasic",
            stats.errors.load(Ordering::Relaxed),
            stats.unschedulable.load(Ordering::Relaxed)
        );
    }
    scheduler.stop();
    server.stop().await?;
    Ok(figures)
}

/// Creates `n` nodes in process, as scheduler_perf's node-default: 4 cpus, 32Gi, 110 pods.
async fn create_nodes(objects: &keel::registry::Objects, n: usize) -> Result<()> {
    let kind = objects
        .kinds()
        .by_path("", "v1", "nodes")
        .context("no nodes")?;
    let mut tasks = tokio::task::JoinSet::new();
    let per = n.div_ceil(16);
    for chunk in 0..16 {
        let objects = objects.clone();
        tasks.spawn(async move {
            for i in chunk * per..((chunk + 1) * per).min(n) {
                let node = json!({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": format!("node-{i}"), "labels": {
                        "kubernetes.io/hostname": format!("node-{i}"),
                        "topology.kubernetes.io/zone": format!("zone-{}", i % 10)}},
                    "status": {
                        "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                        "allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                        "conditions": [{"type": "Ready", "status": "True"}]},
                });
                objects
                    .create(kind, None, node, WriteOptions::default())
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// Creates `n` pods through the HTTP API over `clients` connections; answers when each
/// was sent.
async fn create_pods(port: u16, n: usize, clients: usize) -> Result<HashMap<String, Instant>> {
    let mut tasks = tokio::task::JoinSet::new();
    let clients = clients.max(1);
    for client in 0..clients {
        tasks.spawn(async move {
            let mut sender = keel_bench::connect(port).await?;
            let mut sent = HashMap::new();
            for i in (client..n).step_by(clients) {
                let name = format!("pod-{i}");
                let body = json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": "default"},
                    "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]},
                });
                let request = hyper::Request::post("/api/v1/namespaces/default/pods")
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body.to_string())))?;
                sent.insert(name, Instant::now());
                let response = sender.send_request(request).await?;
                if response.status() != hyper::StatusCode::CREATED {
                    bail!("creating pod-{i}: {}", response.status());
                }
                http_body_util::BodyExt::collect(response.into_body()).await?;
            }
            anyhow::Ok(sent)
        });
    }
    let mut sent = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        sent.extend(done??);
    }
    Ok(sent)
}
