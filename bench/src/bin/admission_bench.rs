//! `admission-bench`: what admission adds to the API's create latency, in one run.
//!
//! Five in-process servers take the same sequential Pod creates, each over one keep-alive
//! HTTP/1 connection, first as `dryRun=All` (admission and everything else but the store
//! write: the admission cost without fsync noise), then stored. The servers take turns in
//! blocks, so a drift in the machine's speed during the run falls on every row alike and
//! the differences between rows are the configurations' own:
//!
//! - `none`: no admission plugin;
//! - `chain`: the default chain of WASM plugins (schema, namespace-lifecycle, limit-ranger,
//!   pod-security, image-policy, resource-quota), configured as `keel up` runs them;
//! - `image-policy (wasm)`: the image policy alone, as a WASM plugin;
//! - `image-policy (webhook)`: the same check compiled natively into an HTTP webhook server
//!   on loopback, in a process of its own (this binary, with `--serve-webhook`), called with
//!   an `AdmissionReview` for every write, the way Gatekeeper and Kubewarden run and are
//!   called (over plain HTTP and a kept-alive connection, which favours the webhook:
//!   Kubernetes requires TLS for webhooks);
//! - `image-policy (webhook, inproc)`: the same webhook server, but run on the API server's
//!   own runtime, with no process boundary between them (no real deployment runs so).
//!
//! The whole run is made twice (`--idle` chooses one): with the cores idling as the machine
//! is configured, and with them held awake ([`keel_bench::idle`]). On a VM that halts when
//! idle, a sequential run wakes a halted core for every request, and the work after each
//! wake-up runs on cold caches; held awake, the figures are the configurations' own work.
//!
//! It prints p50 and p99 for each, what each adds over `none`, and the goals: the whole
//! chain adds under 50 µs at p50, and is at least 20x cheaper than the webhook in a process
//! of its own (and what the in-process one gives, for comparison). To show where
//! the chain's time goes it also calls, without HTTP, each plugin alone, all plugins in a
//! row, and the server's whole admission step.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use keel::catalog::install::PluginSeed;
use keel::cluster::{CustomAdmission, InProcess, ServerConfig};
use keel::object::patch::PatchType;
use keel::plugin::calls::{AdmissionRequest, ObjectRef, Operation, UserInfo};
use keel::plugin::{CacheView, Plugin, PluginType};
use keel::registry::admission::{self, Admission, AdmitFuture, Admitted, Attempt, Warnings};
use keel::registry::{ApiError, Part, WriteOptions};
use keel_bench::idle::{self, Idle};
use keel_bench::{connect, time_async};
use keel_plugin_artifacts as artifacts;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The images the policy allows, in every configuration.
const ALLOWED: &str = "docker.io/library/";

/// The row of the webhook in a process of its own, as Kubewarden and Gatekeeper run.
const WEBHOOK: &str = "image-policy (webhook)";

/// The row of the same webhook served in the API server's own process.
const WEBHOOK_IN_PROCESS: &str = "image-policy (webhook, inproc)";

/// The name column's width.
const NAME: usize = 30;

#[derive(Parser)]
#[command(about = "Create latency with and without admission, WASM plugins against a webhook")]
struct Args {
    /// Creates per configuration and mode (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 2000)]
    creates: u64,
    /// How the cores idle during the run: as the machine is configured, held awake, or a
    /// whole run of each (the default).
    #[arg(long, value_enum)]
    idle: Option<Idle>,
    /// Serve only the webhook, printing its port, until stdin closes: how the bench runs
    /// its webhook in a process of its own.
    #[arg(long, hide = true)]
    serve_webhook: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.serve_webhook {
        return serve_webhook().await;
    }
    println!(
        "admission-bench: {} sequential Pod creates per row, one keep-alive HTTP/1 connection per \
         server, the rows interleaved in blocks of {}; cpuidle {}",
        args.creates,
        block(args.creates),
        idle::idle_states().unwrap_or_else(|| "unknown".into())
    );
    let conditions = match args.idle {
        Some(idle) => vec![idle],
        None => vec![Idle::Sleep, Idle::Awake],
    };
    let process = WebhookProcess::start()?;
    let webhooks = Webhooks {
        own_process: WebhookClient::new(process.port),
        in_process: WebhookClient::new(serve_in_process().await?),
        _process: process,
    };
    for idle in conditions {
        println!();
        println!("== {}", idle.describe());
        let _held = match idle.hold() {
            Ok(held) => held,
            Err(why) => {
                println!("skipped: {why}");
                continue;
            }
        };
        run(args.creates, &webhooks).await?;
    }
    Ok(())
}

/// One whole run: the servers, their timed creates, and the report.
async fn run(creates: u64, webhooks: &Webhooks) -> Result<()> {
    let configs: Vec<(&'static str, Setup)> = vec![
        ("none", Setup::Plugins(vec![])),
        ("chain", Setup::Plugins(default_chain()?)),
        (
            "image-policy (wasm)",
            Setup::Plugins(vec![seed("image-policy", artifacts::IMAGE_POLICY)]),
        ),
        (WEBHOOK, Setup::Custom(webhooks.own_process.clone())),
        (
            WEBHOOK_IN_PROCESS,
            Setup::Custom(webhooks.in_process.clone()),
        ),
    ];
    let mut servers = Vec::new();
    for (name, setup) in configs {
        let server = Server::start(name, setup)
            .await
            .with_context(|| format!("configuration {name}"))?;
        servers.push(server);
    }
    let targets: Vec<Target> = servers
        .iter()
        .map(|s| Target {
            port: s.server.running.addr.port(),
            plugins: s.server.running.catalog.of_type(PluginType::Admission),
        })
        .collect();
    let timed = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(creates_timed(&targets, creates))
    })
    .await??;
    let mut rows = Vec::new();
    for (server, timed) in servers.into_iter().zip(timed) {
        let name = server.name;
        let row = server
            .finish(timed, creates)
            .await
            .with_context(|| format!("configuration {name}"))?;
        rows.push(row);
    }
    report(&rows);
    Ok(())
}

/// Untimed creates per configuration and mode before the timed ones.
fn warm_up(creates: u64) -> u64 {
    (creates / 10).max(10)
}

/// How many creates each row takes in a turn: a twentieth of them, so every row sees the
/// machine in every state a run goes through (its speed drifts by tens of percent between
/// seconds on a shared VM), while each row's server stays as warm as a server taking
/// only its own writes.
fn block(creates: u64) -> u64 {
    (creates / 20).max(1)
}

enum Setup {
    Plugins(Vec<PluginSeed>),
    Custom(Arc<WebhookClient>),
}

fn seed(name: &str, path: &str) -> PluginSeed {
    PluginSeed {
        name: name.into(),
        plugin_type: PluginType::Admission,
        path: path.into(),
        weight: None,
        spec: None,
    }
}

/// The default chain, with the spec files `keel up` gives it.
fn default_chain() -> Result<Vec<PluginSeed>> {
    let mut seeds: Vec<PluginSeed> = artifacts::ADMISSION_CHAIN
        .iter()
        .map(|&(name, path, _)| seed(name, path))
        .collect();
    for (name, _, _) in artifacts::ADMISSION_CHAIN.iter().filter(|p| p.2) {
        let spec = format!("{name}={}", artifacts::deploy_spec(name).display());
        PluginSeed::add_spec(&mut seeds, &spec).map_err(anyhow::Error::msg)?;
    }
    Ok(seeds)
}

/// One configuration's figures, in microseconds.
struct Row {
    name: &'static str,
    dry: Histogram<u64>,
    stored: Histogram<u64>,
    /// Mean time inside the plugins per timed dry-run create, from their call counters:
    /// what the chain costs, free of the noise between servers.
    plugin_us: i64,
}

/// A server the timed creates go to: its port, and the admission plugins whose time they
/// measure.
struct Target {
    port: u16,
    plugins: Vec<Arc<Plugin>>,
}

impl Target {
    /// The time each of its plugins has spent in calls so far.
    fn plugin_times(&self) -> Vec<Duration> {
        self.plugins.iter().map(|p| p.stats().busy()).collect()
    }
}

/// One server's timed creates in one mode (dry-run or stored): their latencies, and the
/// time inside each of its plugins during them (warm-ups left out).
struct Mode {
    latency: Histogram<u64>,
    /// By plugin name, in chain order.
    plugins: Vec<(String, Duration)>,
}

impl Mode {
    fn new() -> Result<Mode> {
        Ok(Mode {
            latency: Histogram::new(3)?,
            plugins: Vec::new(),
        })
    }
}

/// One server's timed creates.
struct Timed {
    dry: Mode,
    stored: Mode,
}

impl Timed {
    /// The dry-run creates' figures, or the stored ones'.
    fn mode(&mut self, dry: bool) -> &mut Mode {
        if dry { &mut self.dry } else { &mut self.stored }
    }
}

/// One configuration's server.
struct Server {
    name: &'static str,
    server: InProcess,
    /// The server's data, removed when the row is done.
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(name: &'static str, setup: Setup) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let mut config = ServerConfig::new(dir.path().to_path_buf(), ([127, 0, 0, 1], 0).into());
        let image_policy = match setup {
            Setup::Plugins(seeds) => {
                let configure = seeds.iter().any(|s| s.name == "image-policy");
                config.plugins = seeds;
                configure
            }
            Setup::Custom(client) => {
                config.admission = Some(CustomAdmission(client));
                false
            }
        };
        let server = InProcess::start(config).await?;
        if image_policy {
            configure_image_policy(&server).await?;
        }
        Ok(Server {
            name,
            server,
            _dir: dir,
        })
    }

    /// The row of this server's `creates` timed creates, with where its plugins' time went.
    async fn finish(self, timed: Timed, creates: u64) -> Result<Row> {
        let Server { name, server, _dir } = self;
        let Timed { dry, stored } = timed;
        let per_write = |time: Duration| time.as_secs_f64() * 1e6 / creates.max(1) as f64;
        let in_plugins = |mode: &Mode| per_write(mode.plugins.iter().map(|p| p.1).sum()) as i64;
        let plugin_us = in_plugins(&dry);
        let stored_us = in_plugins(&stored);
        let breakdown: Vec<String> = dry
            .plugins
            .iter()
            .zip(&stored.plugins)
            .map(|((name, dry), (_, stored))| {
                format!(
                    "{name} {:.1} / {:.1} us",
                    per_write(*dry),
                    per_write(*stored)
                )
            })
            .collect();
        let chain = server.running.catalog.of_type(PluginType::Admission);
        let alone = alone(&chain).await?;
        let direct = if chain.is_empty() {
            None
        } else {
            Some((in_a_row(&chain).await?, admitted_directly(&server).await?))
        };
        server.stop().await?;
        if !alone.is_empty() {
            println!(
                "  {name:<NAME$} each plugin called alone, p50 (mutate / validate; -: a step it has not): {}",
                alone.join(", ")
            );
        }
        if let Some((in_a_row, admitted)) = direct {
            println!(
                "  {name:<NAME$} called directly, p50: the plugins in a row {:.1} us, the whole admission step (no HTTP) {:.1} us",
                in_a_row / 1e3,
                admitted / 1e3
            );
        }
        println!(
            "  {name:<NAME$} measured: dry-run p50 {} us, stored p50 {} us",
            dry.latency.value_at_quantile(0.5),
            stored.latency.value_at_quantile(0.5)
        );
        if !breakdown.is_empty() {
            println!(
                "  {name:<NAME$} mean time inside the plugins per create: dry-run {plugin_us} us, stored {stored_us} us; each plugin, dry-run / stored: {}",
                breakdown.join(", ")
            );
        }
        Ok(Row {
            name,
            dry: dry.latency,
            stored: stored.latency,
            plugin_us,
        })
    }
}

/// The bench's creates against the `targets`, dry-run then stored, the servers taking turns
/// in blocks: each server's latencies and time inside its plugins, by mode. It runs on a thread of its
/// own, as a client in another process would, not on the servers' workers (where a request
/// could be answered on the client's own worker and skip a wake-up no real client skips).
async fn creates_timed(targets: &[Target], creates: u64) -> Result<Vec<Timed>> {
    let mut senders = Vec::with_capacity(targets.len());
    for target in targets {
        let mut sender = connect(target.port).await?;
        // A namespace as `keel up` users have: Pod Security at baseline.
        post(&mut sender, "/api/v1/namespaces", &namespace()).await?;
        senders.push(sender);
    }
    let mut timed = Vec::with_capacity(targets.len());
    for _ in targets {
        timed.push(Timed {
            dry: Mode::new()?,
            stored: Mode::new()?,
        });
    }
    let block = block(creates);
    for (dry, mode, query) in [(true, "dry", "?dryRun=All"), (false, "stored", "")] {
        let path = format!("/api/v1/namespaces/bench/pods{query}");
        let warm = warm_up(creates);
        let mut next = 0u64;
        for sender in &mut senders {
            for _ in 0..warm {
                create(sender, &path, &format!("{mode}-{next}")).await?;
                next += 1;
            }
        }
        let before: Vec<Vec<Duration>> = targets.iter().map(Target::plugin_times).collect();
        let mut done = 0;
        while done < creates {
            let n = block.min(creates - done);
            for (sender, timed) in senders.iter_mut().zip(timed.iter_mut()) {
                for _ in 0..n {
                    let micros = create(sender, &path, &format!("{mode}-{next}")).await?;
                    next += 1;
                    timed.mode(dry).latency.record(micros.max(1))?;
                }
            }
            done += n;
        }
        for ((target, before), timed) in targets.iter().zip(before).zip(&mut timed) {
            timed.mode(dry).plugins = target
                .plugins
                .iter()
                .zip(target.plugin_times().into_iter().zip(before))
                .map(|(plugin, (now, then))| (plugin.name().to_string(), now.saturating_sub(then)))
                .collect();
        }
    }
    Ok(timed)
}

/// One Pod create, which must succeed: its latency in microseconds.
async fn create(sender: &mut SendRequest<Full<Bytes>>, path: &str, name: &str) -> Result<u64> {
    let body = pod(name);
    let started = Instant::now();
    let (code, answer) = post(sender, path, &body).await?;
    let micros = started.elapsed().as_micros() as u64;
    if code != 201 {
        anyhow::bail!("create answered {code}: {answer}");
    }
    Ok(micros)
}

/// The image policy's configuration, as in every row that runs it.
async fn configure_image_policy(server: &InProcess) -> Result<()> {
    let objects = &server.running.objects;
    let plugins = objects
        .kinds()
        .by_path("keel.dev", "v1alpha1", "plugins")
        .context("plugins are not served")?;
    let spec = json!({"spec": {"config": {"allowedPrefixes": [ALLOWED]}}});
    objects
        .patch(
            plugins,
            None,
            "image-policy",
            PatchType::Merge,
            &spec,
            Part::Main,
            WriteOptions::default(),
        )
        .await?;
    let configured = server
        .running
        .catalog
        .wait_for(
            "image-policy",
            |p| !p.spec().config.is_null(),
            Duration::from_secs(60),
        )
        .await;
    anyhow::ensure!(configured, "the image policy's configuration never served");
    Ok(())
}

/// Each plugin's steps (mutate, validate) on the bench's create, called directly (no HTTP, no
/// chain), 1,000 times each: `name M / V us`, p50s.
async fn alone(chain: &[Arc<Plugin>]) -> Result<Vec<String>> {
    let view: Arc<dyn CacheView> = Arc::new(BenchNamespace(namespace().to_string()));
    let request = bench_request();
    let mut alone = Vec::with_capacity(chain.len());
    for plugin in chain {
        let steps = plugin.admission_steps();
        let mutate = step_p50(steps.mutates, async || {
            Ok(plugin.mutate_async(view.clone(), &request).await?)
        })
        .await?;
        let validate = step_p50(steps.validates, async || {
            Ok(plugin.validate_async(view.clone(), &request).await?)
        })
        .await?;
        alone.push(format!("{} {mutate} / {validate} us", plugin.name()));
    }
    Ok(alone)
}

/// The p50 of 1,000 calls of one step in microseconds, as text; `-` for a step the plugin
/// has not (`has` false).
async fn step_p50<T>(has: bool, call: impl AsyncFnMut() -> Result<T>) -> Result<String> {
    if !has {
        return Ok("-".into());
    }
    let (p50, _) = time_async(1000, call).await?;
    Ok(format!("{:.1}", p50 / 1e3))
}

/// The bench's create as plugins receive it.
fn bench_request() -> AdmissionRequest {
    AdmissionRequest {
        uid: "00000000-0000-0000-0000-000000000000".into(),
        operation: Operation::Create,
        group: String::new(),
        version: "v1".into(),
        kind: "Pod".into(),
        resource: "pods".into(),
        subresource: None,
        namespace: "bench".into(),
        name: "alone".into(),
        user: UserInfo {
            username: "system:admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        },
        object: Some(pod("alone").to_string()),
        old_object: None,
        dry_run: true,
    }
}

/// Every mutating step, then every validating step, as the chain calls them but
/// directly: p50 of 1,000 runs, in nanoseconds.
async fn in_a_row(chain: &[Arc<Plugin>]) -> Result<f64> {
    let view: Arc<dyn CacheView> = Arc::new(BenchNamespace(namespace().to_string()));
    let request = bench_request();
    let (p50, _) = time_async(1000, async || {
        for plugin in chain.iter().filter(|p| p.admission_steps().mutates) {
            plugin.mutate_async(view.clone(), &request).await?;
        }
        for plugin in chain.iter().filter(|p| p.admission_steps().validates) {
            plugin.validate_async(view.clone(), &request).await?;
        }
        Ok(())
    })
    .await?;
    Ok(p50)
}

/// The server's admission step for the bench's create (plugin selection, the cache, the
/// plugins, their answers), called as the API calls it but without HTTP: p50 of 1,000
/// dry-run admits, in nanoseconds.
async fn admitted_directly(server: &InProcess) -> Result<f64> {
    let objects = server.running.objects.clone();
    // On a runtime worker, as the API's request tasks run.
    tokio::spawn(async move {
        let step = objects
            .admission()
            .context("the server has no admission step")?;
        let pods = objects
            .kinds()
            .by_kind("v1", "Pod")
            .context("pods are not served")?;
        let object = pod("direct");
        let user = admission::UserInfo::default();
        let warnings = Warnings::default();
        let mut samples = Vec::with_capacity(1000);
        for _ in 0..1000 {
            let attempt = Attempt {
                operation: admission::Operation::Create,
                kind: pods,
                namespace: "bench",
                name: "direct",
                subresource: None,
                object: Some(&object),
                old_object: None,
                dry_run: true,
                user: &user,
                warnings: &warnings,
            };
            let started = Instant::now();
            step.admit(attempt).await?;
            samples.push(started.elapsed().as_nanos() as f64);
        }
        samples.sort_by(f64::total_cmp);
        Ok(samples[samples.len() / 2])
    })
    .await?
}

/// The bench's namespace as the only object a plugin finds in its cache.
struct BenchNamespace(String);

impl CacheView for BenchNamespace {
    fn get(&self, key: &ObjectRef) -> Option<String> {
        (key.kind == "Namespace" && key.name == "bench").then(|| self.0.clone())
    }

    fn list(&self, _: &str, _: &str, _: &str, _: &str) -> Vec<String> {
        Vec::new()
    }
}

fn namespace() -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench",
        "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}})
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "app", "image": "docker.io/library/nginx:1.27",
            "ports": [{"containerPort": 80}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "200m", "memory": "128Mi"}}}]}})
}

async fn post(
    sender: &mut SendRequest<Full<Bytes>>,
    path: &str,
    body: &Value,
) -> Result<(u16, String)> {
    let request = Request::post(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let code = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((code, String::from_utf8_lossy(&bytes).into_owned()))
}

fn report(rows: &[Row]) {
    let p = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as i64;
    let Some(none) = rows.iter().find(|r| r.name == "none") else {
        return;
    };
    println!();
    println!(
        "{:<NAME$} {:>10} {:>10} {:>12} {:>12} {:>10} {:>10} {:>12}",
        "configuration",
        "dry p50",
        "dry p99",
        "adds p50",
        "adds p99",
        "store p50",
        "store p99",
        "adds p50"
    );
    for row in rows {
        println!(
            "{:<NAME$} {:>8}us {:>8}us {:>10}us {:>10}us {:>8}us {:>8}us {:>10}us",
            row.name,
            p(&row.dry, 0.5),
            p(&row.dry, 0.99),
            p(&row.dry, 0.5) - p(&none.dry, 0.5),
            p(&row.dry, 0.99) - p(&none.dry, 0.99),
            p(&row.stored, 0.5),
            p(&row.stored, 0.99),
            p(&row.stored, 0.5) - p(&none.stored, 0.5),
        );
    }
    // What a configuration adds: the p50 difference, but never less than the time measured
    // inside its plugins (p50s of separate servers differ by some microseconds of noise).
    let added = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .map(|r| (p(&r.dry, 0.5) - p(&none.dry, 0.5)).max(r.plugin_us).max(1))
    };
    if let (Some(chain), Some(wasm), Some(hook), Some(inproc)) = (
        added("chain"),
        added("image-policy (wasm)"),
        added(WEBHOOK),
        added(WEBHOOK_IN_PROCESS),
    ) {
        println!();
        for row in rows.iter().filter(|r| r.plugin_us > 0) {
            println!(
                "{}: {} us per write inside the plugins",
                row.name, row.plugin_us
            );
        }
        println!(
            "default chain adds {chain} us at p50 (goal: under 50 us): {}",
            if chain < 50 { "met" } else { "NOT met" }
        );
        println!(
            "same check: webhook (a process of its own) adds {hook} us, WASM plugin {wasm} us: {:.1}x cheaper (goal: at least 20x): {}",
            hook as f64 / wasm as f64,
            if hook >= 20 * wasm { "met" } else { "NOT met" }
        );
        println!(
            "same check, the webhook served in the API server's own process: adds {inproc} us, {:.1}x the WASM plugin",
            inproc as f64 / wasm as f64
        );
        println!(
            "whole default chain (6 plugins) against one webhook call doing only the image check: {:.1}x",
            hook as f64 / chain as f64
        );
    }
}

/// The two webhook servers' clients: the API server calls one of them for every write.
struct Webhooks {
    own_process: Arc<WebhookClient>,
    in_process: Arc<WebhookClient>,
    /// The process `own_process` calls, stopped with the bench.
    _process: WebhookProcess,
}

/// Serves the webhook on loopback from this process's runtime: its port.
async fn serve_in_process() -> Result<u16> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(accept(listener));
    Ok(port)
}

/// `--serve-webhook`: serves the webhook, prints `port <n>`, and exits when stdin closes
/// (when the bench that started it ends, however it ends).
async fn serve_webhook() -> Result<()> {
    println!("port {}", serve_in_process().await?);
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    Ok(())
}

/// Takes webhook connections on `listener`, serving each with [`review`].
async fn accept(listener: tokio::net::TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(review);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The webhook server in a process of its own (this binary with `--serve-webhook`), as
/// Kubewarden's and Gatekeeper's servers run beside the API server; stopped when dropped.
struct WebhookProcess {
    child: std::process::Child,
    port: u16,
}

impl WebhookProcess {
    fn start() -> Result<WebhookProcess> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let child = Command::new(std::env::current_exe()?)
            .arg("--serve-webhook")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the webhook process")?;
        // Held from the start, so the process is stopped however the rest fails.
        let mut process = WebhookProcess { child, port: 0 };
        let stdout = process
            .child
            .stdout
            .take()
            .context("the webhook process has no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        process.port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("the webhook process said {line:?}, not its port"))?;
        Ok(process)
    }
}

impl Drop for WebhookProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The webhook's handler: an `AdmissionReview` in, one out. It reads only what the check
/// needs, as the plugin does.
async fn review(
    request: Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let body = match request.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let response = match serde_json::from_slice::<Review>(&body) {
        Ok(Review { request }) => {
            let allowed_prefixes = [ALLOWED.to_string()];
            let denial = request.object.and_then(|object| {
                object.denial(request.kind.group, request.kind.kind, &allowed_prefixes)
            });
            match denial {
                None => json!({"uid": request.uid, "allowed": true}),
                Some(message) => json!({"uid": request.uid, "allowed": false,
                    "status": {"code": 403, "message": message}}),
            }
        }
        Err(e) => json!({"uid": "", "allowed": false,
            "status": {"code": 400, "message": format!("bad AdmissionReview: {e}")}}),
    };
    let answer = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response});
    let bytes = serde_json::to_vec(&answer).unwrap_or_default();
    Ok(hyper::Response::new(Full::new(Bytes::from(bytes))))
}

/// The parts of an `AdmissionReview` the webhook reads.
#[derive(serde::Deserialize)]
struct Review<'a> {
    #[serde(borrow)]
    request: ReviewRequest<'a>,
}

#[derive(serde::Deserialize)]
struct ReviewRequest<'a> {
    uid: &'a str,
    kind: ReviewKind<'a>,
    #[serde(borrow, default)]
    object: Option<keel_plugin_image_policy::Object<'a>>,
}

#[derive(serde::Deserialize)]
struct ReviewKind<'a> {
    #[serde(default)]
    group: &'a str,
    kind: &'a str,
}

/// Calls the webhook, as an API server does, on a kept-alive connection.
struct WebhookClient {
    port: u16,
    sender: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl WebhookClient {
    fn new(port: u16) -> Arc<WebhookClient> {
        Arc::new(WebhookClient {
            port,
            sender: Mutex::new(None),
        })
    }

    async fn call(&self, attempt: Attempt<'_>) -> Result<Admitted, ApiError> {
        let kind = attempt.kind;
        let review = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": uuid_like(),
                "kind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
                "resource": {"group": kind.group, "version": kind.version, "resource": kind.plural},
                "subResource": attempt.subresource,
                "name": attempt.name, "namespace": attempt.namespace,
                "operation": attempt.operation.as_str(),
                "userInfo": {"username": attempt.user.username, "groups": attempt.user.groups},
                "object": attempt.object, "oldObject": attempt.old_object,
                "dryRun": attempt.dry_run,
            }
        });
        let failed = |e: String| ApiError::Admission {
            code: 500,
            reason: "InternalError".into(),
            message: format!("failed calling webhook: {e}"),
        };
        let mut slot = self.sender.lock().await;
        if slot.as_ref().is_none_or(|s| s.is_closed()) {
            *slot = Some(
                connect(self.port)
                    .await
                    .map_err(|e| failed(e.to_string()))?,
            );
        }
        let Some(sender) = slot.as_mut() else {
            return Err(failed("no connection".into()));
        };
        let (code, body) = post(sender, "/validate", &review)
            .await
            .map_err(|e| failed(e.to_string()))?;
        drop(slot);
        let answer: Value = serde_json::from_str(&body).map_err(|e| failed(e.to_string()))?;
        if code != 200 {
            return Err(failed(format!("answered {code}")));
        }
        if answer.pointer("/response/allowed") == Some(&Value::Bool(true)) {
            return Ok(Admitted::default());
        }
        let message = answer
            .pointer("/response/status/message")
            .and_then(Value::as_str)
            .unwrap_or("denied");
        Err(ApiError::Admission {
            code: 403,
            reason: "Forbidden".into(),
            message: format!("admission webhook \"image-policy\" denied the request: {message}"),
        })
    }
}

impl Admission for WebhookClient {
    fn admit<'a>(&'a self, attempt: Attempt<'a>) -> AdmitFuture<'a> {
        Box::pin(self.call(attempt))
    }
}

/// A request uid, unique enough for a benchmark.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("review-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
