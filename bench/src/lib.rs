//! What the benchmark harnesses share: a kept-alive HTTP/1 connection on loopback,
//! ([`native`]) the default scheduler plugins compiled natively, and ([`writes`]) the
//! create load the store benchmarks send to Keel and etcd.

pub mod native;
pub mod writes;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// An HTTP/1 connection to `127.0.0.1:port` (Nagle off), its driver spawned.
pub async fn connect(port: u16) -> Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}
