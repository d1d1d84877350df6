//! The write load the store benchmarks share: the same 1 KiB creates sent to
//! Keel (a ConfigMap through the API) and to etcd (a transaction through its
//! JSON gateway that puts the key only if it does not exist, as
//! kube-apiserver's creates do), from concurrent clients with one kept-alive
//! connection each; and the processes under test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;

use crate::connect;

/// The load's flags, shared by the store benchmarks.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Client counts to run, comma-separated.
    #[arg(long, default_value = "1,16,64", value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Seconds of load per client count and target.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub value_size: usize,
    /// The keel binary (default: beside this one).
    #[arg(long)]
    pub keel: Option<PathBuf>,
    /// The etcd binary.
    #[arg(long, default_value = "etcd")]
    pub etcd: PathBuf,
}

/// What is measured.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    /// Keel's API.
    Keel,
    /// etcd's v3 JSON gateway.
    Etcd,
}

impl Target {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Target::Keel => "keel",
            Target::Etcd => "etcd",
        }
    }
}

/// A process under test, killed when dropped.
pub struct Proc(pub Child);

impl Proc {
    /// Starts `command` with its stderr in `log`.
    pub fn spawn(mut command: Command, log: &Path, what: &str) -> Result<Proc> {
        let log = std::fs::File::create(log)?;
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        Ok(Proc(child))
    }

    /// SIGKILL, and wait until it is gone.
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The keel binary: `explicit`, or the one beside this benchmark.
pub fn keel_binary(explicit: Option<&PathBuf>) -> Result<PathBuf> {
    match explicit {
        Some(b) => Ok(b.clone()),
        None => Ok(std::env::current_exe()?
            .parent()
            .context("no exe dir")?
            .join("keel")),
    }
}

/// One create of `key` with `value`.
pub fn create(target: Target, port: u16, key: &str, value: &str) -> Result<Request<Full<Bytes>>> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (path, body) = match target {
        Target::Keel => (
            "/api/v1/namespaces/default/configmaps",
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": key}, "data": {"v": value}}),
        ),
        Target::Etcd => (
            "/v3/kv/txn",
            serde_json::json!({
                "compare": [{"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
                "success": [{"request_put": {"key": b64(key), "value": b64(value)}}],
            }),
        ),
    };
    Ok(Request::post(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&body)?)))?)
}

/// Sends one create on a new connection; whether it was acknowledged.
pub async fn create_once(target: Target, port: u16, key: &str, value: &str) -> bool {
    let Ok(mut sender) = connect(port).await else {
        return false;
    };
    let Ok(request) = create(target, port, key, value) else {
        return false;
    };
    match sender.send_request(request).await {
        Ok(resp) => resp.status().is_success(),
        Err(_) => false,
    }
}

/// Waits until `port` takes a create.
pub async fn wait_ready(target: Target, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let probe = format!("ready-probe-{}", Instant::now().elapsed().as_nanos());
        if create_once(target, port, &probe, "x").await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{} on port {port} did not become ready", target.name())
}

/// Throughput and latency of one run.
pub struct Figures {
    /// Acknowledged creates.
    pub ops: u64,
    /// Creates per second.
    pub per_sec: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
}

/// `clients` concurrent clients creating `value`-sized objects for `seconds`, client `c`
/// talking to `ports[c % ports.len()]`.
pub async fn load(
    target: Target,
    ports: &[u16],
    clients: usize,
    seconds: u64,
    value: &str,
) -> Result<Figures> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let value = value.to_string();
        let port = ports[c % ports.len()];
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut sender = connect(port).await?;
            let mut i = 0u64;
            while Instant::now() < deadline {
                let key = format!("b{clients}-{c}-{i}");
                let t = Instant::now();
                let resp = sender
                    .send_request(create(target, port, &key, &value)?)
                    .await?;
                let status = resp.status();
                let _ = resp.into_body().collect().await?;
                if !status.is_success() {
                    bail!("{} answered {status}", target.name());
                }
                hist.record(t.elapsed().as_micros() as u64)?;
                i += 1;
            }
            Ok::<_, anyhow::Error>(hist)
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        all.add(t.await??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Figures {
        ops: all.len(),
        per_sec: all.len() as f64 / elapsed,
        p50_ms: all.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: all.value_at_quantile(0.99) as f64 / 1000.0,
    })
}

/// Prints the table header the store benchmarks share.
pub fn print_header() {
    println!(
        "{:<6} {:>8} {:>10} {:>12} {:>9} {:>9}",
        "target", "clients", "writes", "writes/s", "p50 ms", "p99 ms"
    );
}

/// Prints one run's row.
pub fn print_row(target: Target, clients: usize, f: &Figures) {
    println!(
        "{:<6} {:>8} {:>10} {:>12.0} {:>9.2} {:>9.2}",
        target.name(),
        clients,
        f.ops,
        f.per_sec,
        f.p50_ms,
        f.p99_ms
    );
}

/// The figures of `target` at `clients` among `results`.
pub fn figures_of(
    results: &[(Target, usize, Figures)],
    target: Target,
    clients: usize,
) -> Option<&Figures> {
    results
        .iter()
        .find(|(t, c, _)| *t == target && *c == clients)
        .map(|(_, _, f)| f)
}
