//! Cluster benchmark: a 3-member Keel against a 3-member etcd, three processes
//! each on loopback, under the same load in one run. Concurrent clients spread
//! over the members create 1 KiB objects (Keel: ConfigMaps through the API;
//! etcd: create-if-absent transactions through its JSON gateway, as
//! kube-apiserver sends); both fsync on a majority before answering. Prints
//! creates/s and p50/p99 for each and the Keel/etcd ratio, then the leader
//! failover time of each with default timeouts: from the last write
//! acknowledged before the leader is killed (SIGKILL) to the first write
//! acknowledged after.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use keel_bench::writes::{
    Figures, LoadArgs, Proc, Target, create_once, figures_of, free_port, keel_binary, load,
    print_header, print_row, wait_ready,
};
use tokio::sync::Mutex;

#[derive(Parser)]
#[command(about = "3-member Keel vs 3-member etcd: throughput, latency and failover")]
struct Args {
    #[command(flatten)]
    load: LoadArgs,
}

const MEMBERS: usize = 3;
/// How long writes go on after the leader is killed.
const FAILOVER_WINDOW: Duration = Duration::from_secs(10);

/// A running 3-member cluster.
struct Cluster {
    target: Target,
    procs: Vec<Proc>,
    /// Client (API) ports, by member.
    ports: Vec<u16>,
    /// Peer ports, by member (Keel: where `/raft/status` answers).
    peers: Vec<u16>,
    /// etcd member names' ids, learnt from the cluster, by member.
    etcd_ids: Vec<String>,
}

fn start(target: Target, args: &Args, dir: &Path) -> Result<Cluster> {
    let ports: Vec<u16> = (0..MEMBERS).map(|_| free_port()).collect::<Result<_>>()?;
    let peers: Vec<u16> = (0..MEMBERS).map(|_| free_port()).collect::<Result<_>>()?;
    let mut procs = Vec::new();
    for i in 0..MEMBERS {
        let data = dir.join(format!("{}-{i}", target.name()));
        let log = data.with_extension("log");
        let proc = match target {
            Target::Keel => {
                let initial = (0..MEMBERS)
                    .map(|j| format!("{}=127.0.0.1:{}", j + 1, peers[j]))
                    .collect::<Vec<_>>()
                    .join(",");
                let mut command = Command::new(keel_binary(args.load.keel.as_ref())?);
                command
                    .arg("server")
                    .arg("--data-dir")
                    .arg(&data)
                    .args(["--listen", &format!("127.0.0.1:{}", ports[i])])
                    .args(["--peer-listen", &format!("127.0.0.1:{}", peers[i])])
                    .args(["--id", &(i + 1).to_string()])
                    .args(["--initial-members", &initial, "--no-scheduler"])
                    .env("RUST_LOG", "warn");
                Proc::spawn(command, &log, "keel")?
            }
            Target::Etcd => {
                let initial = (0..MEMBERS)
                    .map(|j| format!("m{j}=http://127.0.0.1:{}", peers[j]))
                    .collect::<Vec<_>>()
                    .join(",");
                let mut command = Command::new(&args.load.etcd);
                command
                    .args(["--name", &format!("m{i}"), "--data-dir"])
                    .arg(&data)
                    .args([
                        "--listen-client-urls",
                        &format!("http://127.0.0.1:{}", ports[i]),
                        "--advertise-client-urls",
                        &format!("http://127.0.0.1:{}", ports[i]),
                        "--listen-peer-urls",
                        &format!("http://127.0.0.1:{}", peers[i]),
                        "--initial-advertise-peer-urls",
                        &format!("http://127.0.0.1:{}", peers[i]),
                        "--initial-cluster",
                        &initial,
                        "--initial-cluster-state",
                        "new",
                        "--log-level",
                        "warn",
                    ]);
                Proc::spawn(command, &log, "etcd (install Debian's etcd-server)")?
            }
        };
        procs.push(proc);
    }
    Ok(Cluster {
        target,
        procs,
        ports,
        peers,
        etcd_ids: Vec::new(),
    })
}

/// A JSON request on a fresh connection.
async fn json(port: u16, method: &str, path: &str, body: &str) -> Result<serde_json::Value> {
    let mut sender = keel_bench::connect(port).await?;
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))?;
    let response = sender.send_request(request).await?;
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await?
        .to_bytes();
    Ok(serde_json::from_slice(&bytes)?)
}

impl Cluster {
    async fn ready(&mut self) -> Result<()> {
        for port in &self.ports {
            wait_ready(self.target, *port).await?;
        }
        if self.target == Target::Etcd {
            for port in &self.ports {
                let status = json(*port, "POST", "/v3/maintenance/status", "{}").await?;
                let id = status["header"]["member_id"]
                    .as_str()
                    .context("etcd status without member_id")?;
                self.etcd_ids.push(id.to_string());
            }
        }
        Ok(())
    }

    /// The member that leads now.
    async fn leader(&self) -> Result<usize> {
        match self.target {
            Target::Keel => {
                let status = json(self.peers[0], "GET", "/raft/status", "").await?;
                let id = status["leader"].as_u64().context("no leader")?;
                Ok(id as usize - 1)
            }
            Target::Etcd => {
                let status = json(self.ports[0], "POST", "/v3/maintenance/status", "{}").await?;
                let leader = status["leader"].as_str().context("no leader")?;
                self.etcd_ids
                    .iter()
                    .position(|id| id == leader)
                    .context("the leader is not a member")
            }
        }
    }

    /// Kills the leader under a load of writers on the other members; the time from the
    /// last write acknowledged before the kill to the first acknowledged after it (`None`
    /// if none was within [`FAILOVER_WINDOW`]).
    async fn failover(&mut self) -> Result<Option<Duration>> {
        let leader = self.leader().await?;
        let others: Vec<u16> = (0..MEMBERS)
            .filter(|i| *i != leader)
            .map(|i| self.ports[i])
            .collect();
        let acks = Arc::new(Mutex::new(Vec::<Instant>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..4 {
            let (acks, stop, others, target) =
                (acks.clone(), stop.clone(), others.clone(), self.target);
            writers.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let port = others[(n as usize + w) % others.len()];
                    let key = format!("failover-{w}-{n}");
                    if create_once(target, port, &key, "x").await {
                        acks.lock().await.push(Instant::now());
                    } else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.procs[leader].kill9();
        let killed = Instant::now();
        tokio::time::sleep(FAILOVER_WINDOW).await;
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            let _ = w.await;
        }
        let acks = acks.lock().await;
        let before = acks.iter().filter(|t| **t <= killed).max();
        let after = acks.iter().filter(|t| **t > killed).min();
        match (before, after) {
            (Some(b), after) => Ok(after.map(|a| a.duration_since(*b))),
            (None, _) => bail!(
                "{}: no write acknowledged before the leader was killed",
                self.target.name()
            ),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let value = "v".repeat(args.load.value_size);
    let dir = tempfile::tempdir()?;
    println!(
        "cluster benchmark: {MEMBERS} members each on loopback, {} B values, {} s per run, clients spread over the members",
        args.load.value_size, args.load.seconds
    );
    print_header();
    let mut results: Vec<(Target, usize, Figures)> = Vec::new();
    let mut failovers = Vec::new();
    for target in [Target::Keel, Target::Etcd] {
        let mut cluster = start(target, &args, dir.path())?;
        cluster.ready().await?;
        for &clients in &args.load.clients {
            let f = load(target, &cluster.ports, clients, args.load.seconds, &value).await?;
            print_row(target, clients, &f);
            results.push((target, clients, f));
        }
        failovers.push((target, cluster.failover().await?));
    }
    println!("\nkeel / etcd (goal: throughput >= 1.0x)");
    for &clients in &args.load.clients {
        let get = |t| figures_of(&results, t, clients);
        if let (Some(k), Some(e)) = (get(Target::Keel), get(Target::Etcd)) {
            println!(
                "{clients:>4} clients: throughput {:.2}x, p99 {:.2} ms vs {:.2} ms",
                k.per_sec / e.per_sec,
                k.p99_ms,
                e.p99_ms
            );
        }
    }
    println!("\nleader failover, last ack before SIGKILL to first ack after (goal: keel < 2 s)");
    for (target, took) in failovers {
        let defaults = match target {
            Target::Keel => "heartbeat 100 ms, election timeout 250-500 ms after a 500 ms lease",
            Target::Etcd => "heartbeat 100 ms, election timeout 1000 ms",
        };
        match took {
            Some(took) => println!(
                "  {:<5} {:>7.0} ms  ({defaults})",
                target.name(),
                took.as_secs_f64() * 1000.0
            ),
            None => println!(
                "  {:<5} no write acknowledged within {} s of the kill  ({defaults})",
                target.name(),
                FAILOVER_WINDOW.as_secs()
            ),
        }
    }
    Ok(())
}
