//! The agent's own HTTP endpoint (the kubelet's port, advertised in the Node's
//! `daemonEndpoints`), which the API server's `pods/log` and `pods/exec` subresources
//! reach:
//!
//! - `GET /healthz`
//! - `GET /containerLogs/{namespace}/{pod}/{container}` with the kubelet's parameters
//!   `follow`, `previous`, `timestamps`, `tailLines`, `limitBytes`, `sinceTime`,
//!   `sinceSeconds`. A followed log streams until the run ends.
//! - `GET /exec/{namespace}/{pod}/{container}?command=…`, upgraded to a WebSocket
//!   ([`super::exec`]).

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;

use super::exec::targets::ExecTargets;
use super::logs::{ContainerLogs, ShowOptions, show};

/// How often a followed log is checked for more.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

type Body = BoxBody<Bytes, Infallible>;

/// Serves the endpoint on `listener`, reading logs under `logs_root` and running commands
/// in the containers of `exec_targets`, for as long as the task lives.
pub async fn serve(listener: TcpListener, logs_root: PathBuf, exec_targets: Arc<ExecTargets>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("agent endpoint accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let root = logs_root.clone();
        let targets = exec_targets.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let response = handle(&root, &targets, req);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn text(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn handle<B>(root: &Path, targets: &ExecTargets, req: Request<B>) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path == "/healthz" {
        return text(StatusCode::OK, "ok");
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["containerLogs", namespace, pod, container] => {
            let query: Vec<(String, String)> =
                form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            container_logs(root, namespace, pod, container, &query)
        }
        ["exec", namespace, pod, container] => {
            match super::exec::serve(targets, (namespace, pod, container), req) {
                Ok(switching) => switching.map(|()| Full::new(Bytes::new()).boxed()),
                Err((code, message)) => text(code, message),
            }
        }
        _ => text(StatusCode::NOT_FOUND, format!("no such endpoint {path}")),
    }
}

/// What the query asks for.
struct LogQuery {
    follow: bool,
    previous: bool,
    limit_bytes: Option<usize>,
    show: ShowOptions,
}

impl LogQuery {
    fn parse(query: &[(String, String)]) -> Result<LogQuery, String> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let flag = |name: &str| get(name).is_some_and(|v| v == "true" || v == "1");
        let number = |name: &str| -> Result<Option<usize>, String> {
            get(name)
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("{name}: {v:?} is not a number"))
                })
                .transpose()
        };
        let since_time = match (get("sinceTime"), number("sinceSeconds")?) {
            (Some(time), _) => Some(
                chrono::DateTime::parse_from_rfc3339(time)
                    .map_err(|e| format!("sinceTime {time:?}: {e}"))?
                    .with_timezone(&chrono::Utc),
            ),
            (None, Some(seconds)) => Some(
                chrono::Utc::now() - chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(0)),
            ),
            (None, None) => None,
        };
        Ok(LogQuery {
            follow: flag("follow"),
            previous: flag("previous"),
            limit_bytes: number("limitBytes")?,
            show: ShowOptions {
                timestamps: flag("timestamps"),
                tail_lines: number("tailLines")?,
                since_time,
            },
        })
    }
}

fn container_logs(
    root: &Path,
    namespace: &str,
    pod: &str,
    container: &str,
    query: &[(String, String)],
) -> Response<Body> {
    let query = match LogQuery::parse(query) {
        Ok(query) => query,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let Some(logs) =
        newest_pod_dir(root, namespace, pod).map(|dir| ContainerLogs::in_pod_dir(&dir, container))
    else {
        return text(
            StatusCode::NOT_FOUND,
            format!("pod {namespace}/{pod} has no logs on this node"),
        );
    };
    let runs = logs.runs();
    let run = match (query.previous, runs.as_slice()) {
        (false, [.., last]) => *last,
        (true, [.., previous, _]) => *previous,
        (true, _) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("previous terminated container {container:?} in pod {pod:?} not found"),
            );
        }
        (false, []) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("container {container:?} in pod {pod:?} is waiting to start"),
            );
        }
    };
    let path = logs.run_path(run);
    let mut content = std::fs::read_to_string(&path).unwrap_or_default();
    // Only whole records: a record being written is shown once it is complete.
    content.truncate(content.rfind('\n').map_or(0, |at| at + 1));
    let mut shown = show(&content, &query.show);
    if let Some(limit) = query.limit_bytes {
        shown.truncate(floor_char_boundary(&shown, limit));
    }
    if !query.follow || query.previous {
        return text(StatusCode::OK, shown);
    }
    // Follow: what is there now, then each record as it is written (reading on from where
    // the last read stopped), until the run ends.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(16);
    let options = ShowOptions {
        tail_lines: None,
        since_time: None,
        ..query.show
    };
    let read_from = content.len() as u64;
    tokio::spawn(async move {
        if tx.send(Ok(Frame::data(Bytes::from(shown)))).await.is_err() {
            return;
        }
        let Ok(mut file) = std::fs::File::open(&path) else {
            return;
        };
        if std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(read_from)).is_err() {
            return;
        }
        let mut pending = Vec::new();
        loop {
            let ended = logs.run_ended(run);
            if std::io::Read::read_to_end(&mut file, &mut pending).is_err() {
                return;
            }
            if let Some(at) = pending.iter().rposition(|b| *b == b'\n') {
                let complete: Vec<u8> = pending.drain(..=at).collect();
                let more = show(&String::from_utf8_lossy(&complete), &options);
                if tx.send(Ok(Frame::data(Bytes::from(more)))).await.is_err() {
                    return;
                }
            }
            if ended {
                return;
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(ReceiverStream::new(rx))));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The log directory of the newest pod named `namespace/pod` (an older pod of the same
/// name may have left logs not yet removed).
fn newest_pod_dir(root: &Path, namespace: &str, pod: &str) -> Option<PathBuf> {
    let prefix = format!("{namespace}_{pod}_");
    std::fs::read_dir(root)
        .ok()?
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .max_by_key(|entry| {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH)
        })
        .map(|entry| entry.path())
}
