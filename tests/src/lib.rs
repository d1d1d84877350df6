//! The end-to-end harness: starts real `keel` processes on loopback ports (or,
//! for cluster tests, in network namespaces that can be partitioned: [`netns`],
//! [`cluster`]), kills them with SIGKILL, and hands out clients (kube-rs,
//! kubectl, raw HTTP) pointed at them; [`workload`] and [`linearizability`]
//! load a cluster and check what it answered; [`agent`] runs node agents,
//! [`runc_cluster`] a one-node cluster offering runc, and [`controllers`] gives the
//! default controllers' flags. The `keel` binary must be built first (the test command
//! does: `cargo build --release --bins`); the harness finds it beside the
//! test executable's target directory.

pub mod agent;
pub mod busybox;
pub mod cluster;
pub mod controllers;
pub mod linearizability;
pub mod netns;
pub mod pod_network;
pub mod runc_cluster;
pub mod workload;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The `keel` binary of this build.
pub fn keel_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KEEL_BIN") {
        return Ok(PathBuf::from(p));
    }
    // target/<profile>/deps/<test> -> target/<profile>/keel
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test executable has no target directory")?;
    let bin = profile_dir.join("keel");
    if !bin.exists() {
        bail!(
            "{} is missing: build it first with `cargo build --release --bins`",
            bin.display()
        );
    }
    Ok(bin)
}

/// A free loopback port (bound and released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A `keel server` child process.
pub struct Server {
    child: Option<Child>,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its port.
    pub port: u16,
    /// Extra flags it was started with.
    extra: Vec<String>,
}

impl Server {
    /// Starts a server on a free port over `data_dir` and waits until it serves. It runs
    /// no scheduler, so pods stay as the test wrote them (see [`Server::start_scheduling`]).
    pub fn start(data_dir: &Path, extra: &[&str]) -> Result<Self> {
        let mut flags = vec!["--no-scheduler"];
        flags.extend_from_slice(extra);
        Self::start_on(data_dir, 0, &flags)
    }

    /// Starts a server that runs its scheduler, as `keel server` does by default.
    pub fn start_scheduling(data_dir: &Path, extra: &[&str]) -> Result<Self> {
        Self::start_on(data_dir, 0, extra)
    }

    /// Starts a server on `port`; on 0, the server binds a free port itself (no other
    /// process can take it between choosing and binding) and it is read from its log.
    pub fn start_on(data_dir: &Path, port: u16, extra: &[&str]) -> Result<Self> {
        let mut server = Self {
            child: None,
            data_dir: data_dir.to_path_buf(),
            port,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.with_extension("log"))?;
        let logged = log.metadata()?.len();
        let child = Command::new(keel_binary()?)
            .arg("server")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.extra)
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting keel server")?;
        self.child = Some(child);
        if self.port == 0 {
            self.port = self.bound_port(logged, Duration::from_secs(60))?;
        }
        self.wait_ready(Duration::from_secs(60))
    }

    /// The port the server says it serves on, from what it logs past byte `from`.
    fn bound_port(&mut self, from: u64, timeout: Duration) -> Result<u16> {
        let log = self.data_dir.with_extension("log");
        let start = Instant::now();
        while start.elapsed() < timeout {
            let text = std::fs::read(&log).unwrap_or_default();
            let text = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default());
            let port = text
                .lines()
                .filter(|l| l.contains("serving the API"))
                .filter_map(|l| l.split_once(" addr=")?.1.split_whitespace().next())
                .filter_map(|addr| addr.parse::<std::net::SocketAddr>().ok())
                .map(|addr| addr.port())
                .next();
            if let Some(port) = port {
                return Ok(port);
            }
            if let Some(running) = self.child.as_mut()
                && let Some(status) = running.try_wait()?
            {
                bail!("keel server exited early ({status}); see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "keel server did not serve within {timeout:?}; see {}",
            log.display()
        )
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let api = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let log = self.data_dir.with_extension("log");
        wait_serving(&mut self.child, api, &log, "keel server", timeout)
    }

    /// The API's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) -> Result<()> {
        kill9(&mut self.child)
    }

    /// Starts the server again over the same data and port.
    pub fn restart(&mut self) -> Result<()> {
        self.kill9()?;
        self.spawn()
    }

    /// A kube-rs client for this server.
    pub fn client(&self) -> Result<kube::Client> {
        let config = kube::Config::new(self.url().parse()?);
        Ok(kube::Client::try_from(config)?)
    }

    /// A kubeconfig file for this server.
    pub fn kubeconfig(&self) -> Result<PathBuf> {
        let path = self.data_dir.with_extension("kubeconfig");
        let status = Command::new(keel_binary()?)
            .args(["kubeconfig", "--force", "--server"])
            .arg(self.url())
            .arg("--out")
            .arg(&path)
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("keel kubeconfig failed: {status}");
        }
        Ok(path)
    }

    /// Runs kubectl against this server.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        let mut cmd = Command::new("kubectl");
        cmd.env("KUBECONFIG", self.kubeconfig()?)
            .env("HOME", self.data_dir.parent().unwrap_or(Path::new("/tmp")))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match stdin {
            None => Ok(cmd.stdin(Stdio::null()).output()?),
            Some(input) => {
                use std::io::Write;
                let mut child = cmd.stdin(Stdio::piped()).spawn()?;
                child
                    .stdin
                    .take()
                    .context("kubectl stdin")?
                    .write_all(input.as_bytes())?;
                Ok(child.wait_with_output()?)
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

/// Waits until the `keel server` in `child` answers `/readyz` at `api`, failing early (naming
/// its `log`) if it exits.
pub fn wait_serving(
    child: &mut Option<Child>,
    api: std::net::SocketAddr,
    log: &Path,
    what: &str,
    timeout: Duration,
) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(running) = child.as_mut()
            && let Some(status) = running.try_wait()?
        {
            bail!("{what} exited early ({status}); see {}", log.display());
        }
        let ready = http_to(api, "GET", "/readyz", &[], b"", Duration::from_secs(10));
        if ready.is_ok_and(|(code, _, _)| code == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "{what} did not serve within {timeout:?}; see {}",
        log.display()
    )
}

/// SIGKILL the process in `child`, if any, and wait until it is gone.
pub fn kill9(child: &mut Option<Child>) -> Result<()> {
    if let Some(mut running) = child.take() {
        running.kill()?;
        running.wait()?;
    }
    Ok(())
}

/// One HTTP/1.1 request on loopback: the status code and the body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, String)> {
    let headers = [("Content-Type", content_type)];
    let (code, _, body) = http_full(port, method, path, &headers, body)?;
    Ok((code, body))
}

/// Response headers, in order.
pub type Headers = Vec<(String, String)>;

/// One HTTP/1.1 request on loopback with extra request headers (JSON unless a
/// `Content-Type` is given): the status code, the response headers, and the body.
pub fn http_full(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, Headers, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    http_to(addr, method, path, headers, body, Duration::from_secs(30))
}

/// One HTTP/1.1 request to `addr`, connecting and answering within `timeout` (each):
/// the status code, the response headers, and the body.
pub fn http_to(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Headers, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(
        s,
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    // A server may answer (413, say) and close before reading the whole body, as
    // Go's and kubectl's clients allow: the answer already sent is what counts.
    if let Err(e) = s.write_all(body)
        && !closed_early(&e)
    {
        return Err(e.into());
    }
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw)
        && (raw.is_empty() || !closed_early(&e))
    {
        return Err(e.into());
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line")?;
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok((code, headers, body.to_string()))
}

/// Whether an I/O error is the peer closing (or resetting) the connection.
fn closed_early(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
    )
}

/// A GET on loopback.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    http(port, "GET", path, "application/json", b"")
}

/// Output as text, failing with both streams when the command failed.
pub fn stdout_ok(out: &Output) -> Result<String> {
    if !out.status.success() {
        bail!(
            "command failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}
