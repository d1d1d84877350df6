//! What the benchmark harnesses share: a kept-alive HTTP/1 connection on loopback, timing
//! a call's p50 and p99 ([`time`], [`time_async`]),
//! ([`native`]) the default scheduler plugins compiled natively, ([`writes`]) the
//! create load the store benchmarks send to Keel and etcd, ([`cpu`]) where a run's
//! CPU time went, by thread, ([`memory`]) a process's resident memory, and ([`idle`])
//! whether the cores may sleep during a run.

pub mod cpu;
pub mod idle;
pub mod memory;
pub mod native;
pub mod writes;

use std::time::Instant;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// Median and p99 of `n` timed runs of `f`, in nanoseconds.
pub fn time<T>(n: u32, mut f: impl FnMut() -> Result<T>) -> Result<(f64, f64)> {
    let mut samples = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        std::hint::black_box(f()?);
        samples.push(start.elapsed().as_nanos() as f64);
    }
    Ok(quantiles(samples))
}

/// [`time`] for an async `f`, awaited in the caller's task.
pub async fn time_async<T>(n: u32, mut f: impl AsyncFnMut() -> Result<T>) -> Result<(f64, f64)> {
    let mut samples = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        std::hint::black_box(f().await?);
        samples.push(start.elapsed().as_nanos() as f64);
    }
    Ok(quantiles(samples))
}

/// The median and p99 of `samples`.
fn quantiles(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

/// An HTTP/1 connection to `127.0.0.1:port` (Nagle off), its driver spawned.
pub async fn connect(port: u16) -> Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}
