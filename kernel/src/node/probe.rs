//! Container probes, as the kubelet runs them: startup, liveness and readiness, each an
//! `exec`, `httpGet` or `tcpSocket` check with its delay, period, timeout and thresholds.
//!
//! [`Probes::start`] runs a container run's probes as tasks and reports what they decide
//! as [`ProbeEvent`]s: readiness changes, the startup probe passing, or a container found
//! unhealthy (the container task then stops the run and restarts it as the pod's restart
//! policy says). Liveness and readiness wait for the startup probe to pass. The tasks end
//! with the run (the handle aborts them when dropped).
//!
//! An `httpGet` probe passes on a status from 200 to 399, a `tcpSocket` probe when the
//! connection opens, an `exec` probe when the command exits 0. Probes reach the pod at its
//! IP unless they name a `host`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::exec::process::{ExecProcess, Streams};
use super::runtime::Exec;

/// What a probe checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Runs a command in the container; exit code 0 passes.
    Exec(Vec<String>),
    /// An HTTP GET; a status from 200 to 399 passes.
    HttpGet {
        /// The host (default: the pod's IP).
        host: Option<String>,
        /// The port.
        port: u16,
        /// The path.
        path: String,
        /// Extra request headers.
        headers: Vec<(String, String)>,
    },
    /// A TCP connection; opening passes.
    TcpSocket {
        /// The host (default: the pod's IP).
        host: Option<String>,
        /// The port.
        port: u16,
    },
}

/// One probe of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// What it checks.
    pub check: Check,
    /// `initialDelaySeconds`.
    pub initial_delay: Duration,
    /// `periodSeconds`.
    pub period: Duration,
    /// `timeoutSeconds`.
    pub timeout: Duration,
    /// `successThreshold`.
    pub success_threshold: u32,
    /// `failureThreshold`.
    pub failure_threshold: u32,
}

/// A container's probes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probes {
    /// `startupProbe`.
    pub startup: Option<Probe>,
    /// `livenessProbe`.
    pub liveness: Option<Probe>,
    /// `readinessProbe`.
    pub readiness: Option<Probe>,
}

/// What the probes of a run decided.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeEvent {
    /// The startup probe passed.
    Started,
    /// The readiness probe says the container is (not) ready.
    Ready(bool),
    /// The startup or liveness probe failed too often: the run is to be stopped.
    Unhealthy(String),
}

/// Where a run's probes go.
#[derive(Clone)]
pub struct Target {
    /// The pod's IP.
    pub pod_ip: String,
    /// Runs a command in the container, when the runtime can.
    pub exec: Option<Exec>,
}

impl Probes {
    /// Reads a container's probes; a named port is looked up in its `ports`.
    pub fn of(container: &Value) -> Result<Probes, String> {
        let probe = |field: &str| -> Result<Option<Probe>, String> {
            container
                .get(field)
                .filter(|p| !p.is_null())
                .map(|p| Probe::of(p, container).map_err(|e| format!("{field}: {e}")))
                .transpose()
        };
        Ok(Probes {
            startup: probe("startupProbe")?,
            liveness: probe("livenessProbe")?,
            readiness: probe("readinessProbe")?,
        })
    }

    /// Whether the container is ready as soon as it runs (it has no readiness or startup
    /// probe).
    pub fn ready_at_start(&self) -> bool {
        self.readiness.is_none() && self.startup.is_none()
    }

    /// Starts probing a run; events go to `events` until the handle is dropped.
    pub fn start(&self, target: Target, events: mpsc::UnboundedSender<ProbeEvent>) -> Probing {
        let mut tasks = JoinSet::new();
        let (started_tx, started_rx) = watch::channel(self.startup.is_none());
        if let Some(probe) = self.startup.clone() {
            let (target, events) = (target.clone(), events.clone());
            tasks.spawn(async move {
                let passed = until_failed(&probe, &target, "Startup", &events, true).await;
                if passed {
                    let _ = started_tx.send(true);
                    let _ = events.send(ProbeEvent::Started);
                }
            });
        }
        if let Some(probe) = self.liveness.clone() {
            let (target, events, mut started) =
                (target.clone(), events.clone(), started_rx.clone());
            tasks.spawn(async move {
                if wait_started(&mut started).await {
                    until_failed(&probe, &target, "Liveness", &events, false).await;
                }
            });
        }
        if let Some(probe) = self.readiness.clone() {
            let mut started = started_rx;
            tasks.spawn(async move {
                if wait_started(&mut started).await {
                    readiness(&probe, &target, &events).await;
                }
            });
        }
        Probing { _tasks: tasks }
    }
}

/// The probes of one run; dropping it stops them.
pub struct Probing {
    _tasks: JoinSet<()>,
}

async fn wait_started(started: &mut watch::Receiver<bool>) -> bool {
    started.wait_for(|s| *s).await.is_ok()
}

/// Runs `probe` until it fails `failureThreshold` times in a row, which reports the
/// container unhealthy and gives `false`; with `until_passed` (the startup probe), until it
/// passes once, which gives `true`.
async fn until_failed(
    probe: &Probe,
    target: &Target,
    kind: &str,
    events: &mpsc::UnboundedSender<ProbeEvent>,
    until_passed: bool,
) -> bool {
    tokio::time::sleep(probe.initial_delay).await;
    let mut failures = 0;
    loop {
        match check(probe, target).await {
            Ok(()) if until_passed => return true,
            Ok(()) => failures = 0,
            Err(message) => {
                failures += 1;
                if failures >= probe.failure_threshold {
                    let _ = events.send(ProbeEvent::Unhealthy(format!(
                        "{kind} probe failed: {message}"
                    )));
                    return false;
                }
            }
        }
        tokio::time::sleep(probe.period).await;
    }
}

async fn readiness(probe: &Probe, target: &Target, events: &mpsc::UnboundedSender<ProbeEvent>) {
    tokio::time::sleep(probe.initial_delay).await;
    let (mut successes, mut failures, mut ready) = (0, 0, false);
    loop {
        match check(probe, target).await {
            Ok(()) => {
                (successes, failures) = (successes + 1, 0);
                if !ready && successes >= probe.success_threshold {
                    ready = true;
                    let _ = events.send(ProbeEvent::Ready(true));
                }
            }
            Err(_) => {
                (successes, failures) = (0, failures + 1);
                if ready && failures >= probe.failure_threshold {
                    ready = false;
                    let _ = events.send(ProbeEvent::Ready(false));
                }
            }
        }
        tokio::time::sleep(probe.period).await;
    }
}

/// One check of `probe`: `Ok` when it passes, else why not.
pub async fn check(probe: &Probe, target: &Target) -> Result<(), String> {
    let timeout = probe.timeout;
    let host = |host: &Option<String>| host.clone().unwrap_or_else(|| target.pod_ip.clone());
    let attempt = async {
        match &probe.check {
            Check::Exec(argv) => {
                let exec = target
                    .exec
                    .clone()
                    .ok_or("this runtime cannot run commands in its containers")?;
                let streams = Streams {
                    stdin: false,
                    stdout: true,
                    stderr: true,
                    tty: false,
                };
                let result = ExecProcess::spawn(exec(argv, false), streams)
                    .map_err(|e| format!("exec: {e}"))?
                    .run_to_end(timeout)
                    .await?;
                match result.code {
                    0 => Ok(()),
                    code => Err(format!(
                        "command exited with {code}: {}",
                        result.output.trim_end()
                    )),
                }
            }
            Check::TcpSocket { host: h, port } => {
                let address = format!("{}:{port}", host(h));
                tokio::net::TcpStream::connect(&address)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("dial tcp {address}: {e}"))
            }
            Check::HttpGet {
                host: h,
                port,
                path,
                headers,
            } => http_get(&host(h), *port, path, headers).await,
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("timed out after {timeout:?}")))
}

async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<(), String> {
    let url = format!("http://{host}:{port}{path}");
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("Get {url:?}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("Get {url:?}: {e}"))?;
    tokio::spawn(connection);
    let mut request = http::Request::get(path)
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::USER_AGENT, "kube-probe/1.32")
        .header(http::header::ACCEPT, "*/*");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("Get {url:?}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("Get {url:?}: {e}"))?;
    let status = response.status().as_u16();
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {status}"))
    }
}

impl Probe {
    fn of(probe: &Value, container: &Value) -> Result<Probe, String> {
        let seconds = |field: &str, default: u64, min: u64| {
            Duration::from_secs(
                probe
                    .get(field)
                    .and_then(Value::as_u64)
                    .unwrap_or(default)
                    .max(min),
            )
        };
        let count = |field: &str, default: u32| {
            probe
                .get(field)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(default)
                .max(1)
        };
        let check = if let Some(exec) = probe.get("exec") {
            let argv = super::spec::strings(exec.get("command"));
            if argv.is_empty() {
                return Err("exec.command is empty".into());
            }
            Check::Exec(argv)
        } else if let Some(get) = probe.get("httpGet") {
            if get
                .get("scheme")
                .and_then(Value::as_str)
                .is_some_and(|s| s != "HTTP")
            {
                return Err("httpGet.scheme: only HTTP is supported".into());
            }
            Check::HttpGet {
                host: host(get),
                port: port(get, container)?,
                path: get
                    .get("path")
                    .and_then(Value::as_str)
                    .filter(|p| p.starts_with('/'))
                    .unwrap_or("/")
                    .to_string(),
                headers: get
                    .get("httpHeaders")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|h| {
                                Some((
                                    h.get("name")?.as_str()?.to_string(),
                                    h.get("value")?.as_str()?.to_string(),
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        } else if let Some(tcp) = probe.get("tcpSocket") {
            Check::TcpSocket {
                host: host(tcp),
                port: port(tcp, container)?,
            }
        } else {
            return Err("a probe needs exec, httpGet or tcpSocket".into());
        };
        Ok(Probe {
            check,
            initial_delay: seconds("initialDelaySeconds", 0, 0),
            period: seconds("periodSeconds", 10, 1),
            timeout: seconds("timeoutSeconds", 1, 1),
            success_threshold: count("successThreshold", 1),
            failure_threshold: count("failureThreshold", 3),
        })
    }
}

fn host(action: &Value) -> Option<String> {
    action
        .get("host")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

/// A probe's port: a number, or the name of one of the container's ports.
fn port(action: &Value, container: &Value) -> Result<u16, String> {
    match action.get("port") {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("port {n} is not a valid port")),
        Some(Value::String(name)) => container
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ports| {
                ports
                    .iter()
                    .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
            })
            .and_then(|p| p.get("containerPort").and_then(Value::as_u64))
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("the container has no port named {name:?}")),
        _ => Err("port is missing".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probes_read_with_kubernetes_defaults_and_named_ports() {
        let container = json!({
            "name": "web",
            "ports": [{"name": "http", "containerPort": 8080}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http",
                              "httpHeaders": [{"name": "X-Probe", "value": "1"}]}},
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2,
                               "successThreshold": 2, "failureThreshold": 1},
            "startupProbe": {"exec": {"command": ["cat", "/tmp/up"]}, "initialDelaySeconds": 3},
        });
        let probes = Probes::of(&container).unwrap_or_else(|e| panic!("{e}"));
        let liveness = probes
            .liveness
            .unwrap_or_else(|| panic!("no liveness probe"));
        assert_eq!(
            liveness.check,
            Check::HttpGet {
                host: None,
                port: 8080,
                path: "/healthz".into(),
                headers: vec![("X-Probe".into(), "1".into())],
            }
        );
        assert_eq!(liveness.period, Duration::from_secs(10));
        assert_eq!(liveness.timeout, Duration::from_secs(1));
        assert_eq!(liveness.failure_threshold, 3);
        let readiness = probes
            .readiness
            .unwrap_or_else(|| panic!("no readiness probe"));
        assert_eq!(readiness.period, Duration::from_secs(2));
        assert_eq!(readiness.success_threshold, 2);
        let startup = probes.startup.unwrap_or_else(|| panic!("no startup probe"));
        assert_eq!(startup.initial_delay, Duration::from_secs(3));
        assert_eq!(
            startup.check,
            Check::Exec(vec!["cat".into(), "/tmp/up".into()])
        );

        let unnamed = json!({"livenessProbe": {"tcpSocket": {"port": "metrics"}}});
        assert!(Probes::of(&unnamed).is_err_and(|e| e.contains("no port named \"metrics\"")));
        let empty = json!({"readinessProbe": {"periodSeconds": 1}});
        assert!(Probes::of(&empty).is_err_and(|e| e.contains("exec, httpGet or tcpSocket")));
        assert!(Probes::of(&json!({})).is_ok_and(|p| p.ready_at_start()));
    }

    fn fast(check: Check) -> Probe {
        Probe {
            check,
            initial_delay: Duration::ZERO,
            period: Duration::from_millis(20),
            timeout: Duration::from_secs(1),
            success_threshold: 1,
            failure_threshold: 2,
        }
    }

    #[tokio::test]
    async fn tcp_and_http_checks_pass_and_fail_as_the_kubelet_decides() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        // A server answering `/ok` with 200 and anything else with 500.
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = hyper::service::service_fn(|request: http::Request<_>| async move {
                    let status = if request.uri().path() == "/ok" {
                        200
                    } else {
                        500
                    };
                    http::Response::builder()
                        .status(status)
                        .body(Empty::<Bytes>::new())
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        let target = Target {
            pod_ip: "127.0.0.1".into(),
            exec: None,
        };
        let get = |path: &str| {
            fast(Check::HttpGet {
                host: None,
                port,
                path: path.into(),
                headers: Vec::new(),
            })
        };
        assert_eq!(check(&get("/ok"), &target).await, Ok(()));
        let failed = check(&get("/broken"), &target).await;
        assert!(failed.is_err_and(|e| e.contains("statuscode: 500")));
        let tcp = fast(Check::TcpSocket { host: None, port });
        assert_eq!(check(&tcp, &target).await, Ok(()));
        let exec = fast(Check::Exec(vec!["true".into()]));
        assert!(
            check(&exec, &target)
                .await
                .is_err_and(|e| e.contains("cannot run commands"))
        );

        // Liveness: two failures in a row make the container unhealthy.
        let (events, mut received) = mpsc::unbounded_channel();
        let probes = Probes {
            liveness: Some(get("/broken")),
            readiness: Some(get("/ok")),
            startup: None,
        };
        let _probing = probes.start(target.clone(), events);
        let mut seen = Vec::new();
        while seen.len() < 2 {
            match tokio::time::timeout(Duration::from_secs(5), received.recv()).await {
                Ok(Some(event)) => seen.push(event),
                _ => break,
            }
        }
        assert!(seen.contains(&ProbeEvent::Ready(true)), "{seen:?}");
        assert!(
            seen.iter().any(|e| matches!(e, ProbeEvent::Unhealthy(m)
                if m.starts_with("Liveness probe failed: HTTP probe failed with statuscode: 500"))),
            "{seen:?}"
        );
    }
}
