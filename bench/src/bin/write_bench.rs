//! Write benchmark: N concurrent clients create 1 KiB objects through Keel's
//! HTTP API (ConfigMaps) and, in the same run, through etcd's JSON gateway
//! (`/v3/kv/put`). Both fsync before answering. Prints creates/s and p50/p99
//! latency for each, and the Keel/etcd throughput ratio.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use keel_bench::connect;

#[derive(Parser)]
#[command(about = "Keel vs etcd: concurrent 1 KiB creates over HTTP")]
struct Args {
    /// Client counts to run, comma-separated.
    #[arg(long, default_value = "1,16,64", value_delimiter = ',')]
    clients: Vec<usize>,
    /// Seconds of load per client count and target.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 1024)]
    value_size: usize,
    /// The keel binary (default: beside this one).
    #[arg(long)]
    keel: Option<PathBuf>,
    /// The etcd binary.
    #[arg(long, default_value = "etcd")]
    etcd: PathBuf,
    /// Skip etcd (when it is not installed).
    #[arg(long)]
    no_etcd: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Keel,
    Etcd,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Keel => "keel",
            Target::Etcd => "etcd",
        }
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start(target: Target, args: &Args, dir: &Path, port: u16) -> Result<Proc> {
    let log = std::fs::File::create(dir.with_extension("log"))?;
    let child = match target {
        Target::Keel => {
            let bin = match &args.keel {
                Some(b) => b.clone(),
                None => std::env::current_exe()?
                    .parent()
                    .context("no exe dir")?
                    .join("keel"),
            };
            Command::new(bin)
                .args([
                    "server",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(dir)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting keel")?
        }
        Target::Etcd => {
            let peer = free_port()?;
            Command::new(&args.etcd)
                .args(["--name", "bench", "--data-dir"])
                .arg(dir)
                .args([
                    "--listen-client-urls",
                    &format!("http://127.0.0.1:{port}"),
                    "--advertise-client-urls",
                    &format!("http://127.0.0.1:{port}"),
                    "--listen-peer-urls",
                    &format!("http://127.0.0.1:{peer}"),
                    "--initial-advertise-peer-urls",
                    &format!("http://127.0.0.1:{peer}"),
                    "--initial-cluster",
                    &format!("bench=http://127.0.0.1:{peer}"),
                    "--log-level",
                    "warn",
                ])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting etcd (install Debian's etcd-server, or pass --no-etcd)")?
        }
    };
    Ok(Proc(child))
}

fn request(target: Target, port: u16, key: &str, value: &str) -> Result<Request<Full<Bytes>>> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (path, body) = match target {
        Target::Keel => (
            "/api/v1/namespaces/default/configmaps".to_string(),
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": key}, "data": {"v": value}}),
        ),
        Target::Etcd => (
            "/v3/kv/put".to_string(),
            serde_json::json!({"key": b64(key), "value": b64(value)}),
        ),
    };
    Ok(Request::post(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&body)?)))?)
}

async fn wait_ready(target: Target, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut s) = connect(port).await
            && let Ok(req) = request(target, port, "ready-probe", "x")
            && let Ok(resp) = s.send_request(req).await
            && resp.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{} did not become ready", target.name())
}

struct Figures {
    ops: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn load(
    target: Target,
    port: u16,
    clients: usize,
    seconds: u64,
    value: &str,
) -> Result<Figures> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let value = value.to_string();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut sender = connect(port).await?;
            let mut i = 0u64;
            while Instant::now() < deadline {
                let key = format!("b{clients}-{c}-{i}");
                let t = Instant::now();
                let resp = sender
                    .send_request(request(target, port, &key, &value)?)
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

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let value = "v".repeat(args.value_size);
    let dir = tempfile::tempdir()?;
    let mut targets = vec![Target::Keel];
    if !args.no_etcd {
        targets.push(Target::Etcd);
    }
    println!(
        "write benchmark: {} B values, {} s per run, fsync before every answer on both",
        args.value_size, args.seconds
    );
    println!(
        "{:<6} {:>8} {:>10} {:>12} {:>9} {:>9}",
        "target", "clients", "writes", "writes/s", "p50 ms", "p99 ms"
    );
    let mut results: Vec<(Target, usize, Figures)> = Vec::new();
    for &target in &targets {
        let port = free_port()?;
        let _proc = start(target, &args, &dir.path().join(target.name()), port)?;
        wait_ready(target, port).await?;
        for &clients in &args.clients {
            let f = load(target, port, clients, args.seconds, &value).await?;
            println!(
                "{:<6} {:>8} {:>10} {:>12.0} {:>9.2} {:>9.2}",
                target.name(),
                clients,
                f.ops,
                f.per_sec,
                f.p50_ms,
                f.p99_ms
            );
            results.push((target, clients, f));
        }
    }
    if targets.contains(&Target::Etcd) {
        println!("\nkeel / etcd throughput (goal at 64 clients: >= 1.0x)");
        for &clients in &args.clients {
            let get = |t| {
                results
                    .iter()
                    .find(|(x, c, _)| *x == t && *c == clients)
                    .map(|(_, _, f)| f.per_sec)
            };
            if let (Some(k), Some(e)) = (get(Target::Keel), get(Target::Etcd)) {
                println!("{clients:>4} clients: {:.2}x", k / e);
            }
        }
    }
    Ok(())
}
