//! Write benchmark: N concurrent clients create 1 KiB objects through Keel's
//! HTTP API (ConfigMaps) and, in the same run, through etcd's JSON gateway
//! (a create-if-absent transaction, as kube-apiserver sends). Both fsync before
//! answering. Prints creates/s and p50/p99
//! latency for each, and the Keel/etcd throughput ratio.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use clap::Parser;
use keel_bench::writes::{
    Figures, LoadArgs, Proc, Target, figures_of, free_port, keel_binary, load, print_header,
    print_row, wait_ready,
};

#[derive(Parser)]
#[command(about = "Keel vs etcd: concurrent 1 KiB creates over HTTP")]
struct Args {
    #[command(flatten)]
    load: LoadArgs,
    /// Skip etcd (when it is not installed).
    #[arg(long)]
    no_etcd: bool,
}

fn start(target: Target, args: &Args, dir: &Path, port: u16) -> Result<Proc> {
    let log = dir.with_extension("log");
    match target {
        Target::Keel => {
            let mut command = Command::new(keel_binary(args.load.keel.as_ref())?);
            command
                .args([
                    "server",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(dir)
                .env("RUST_LOG", "warn");
            Proc::spawn(command, &log, "keel")
        }
        Target::Etcd => {
            let peer = free_port()?;
            let mut command = Command::new(&args.load.etcd);
            command
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
                ]);
            Proc::spawn(
                command,
                &log,
                "etcd (install Debian's etcd-server, or pass --no-etcd)",
            )
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let value = "v".repeat(args.load.value_size);
    let dir = tempfile::tempdir()?;
    let mut targets = vec![Target::Keel];
    if !args.no_etcd {
        targets.push(Target::Etcd);
    }
    println!(
        "write benchmark: {} B values, {} s per run, fsync before every answer on both",
        args.load.value_size, args.load.seconds
    );
    print_header();
    let mut results: Vec<(Target, usize, Figures)> = Vec::new();
    for &target in &targets {
        let port = free_port()?;
        let _proc = start(target, &args, &dir.path().join(target.name()), port)?;
        wait_ready(target, port).await?;
        for &clients in &args.load.clients {
            let f = load(target, &[port], clients, args.load.seconds, &value).await?;
            print_row(target, clients, &f);
            results.push((target, clients, f));
        }
    }
    if targets.contains(&Target::Etcd) {
        println!("\nkeel / etcd throughput (goal at 64 clients: >= 1.0x)");
        for &clients in &args.load.clients {
            let get = |t| figures_of(&results, t, clients).map(|f| f.per_sec);
            if let (Some(k), Some(e)) = (get(Target::Keel), get(Target::Etcd)) {
                println!("{clients:>4} clients: {:.2}x", k / e);
            }
        }
    }
    Ok(())
}
