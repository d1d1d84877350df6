//! `exec` on the agent: `GET /exec/{namespace}/{pod}/{container}?command=…&stdin=…&tty=…`
//! upgraded to a WebSocket of the [`channel`] protocol, as the kubelet serves it and the
//! API server passes it through. The container must be running here on a runtime that can
//! run commands in it ([`targets`]); the command runs as the runtime says ([`process`]),
//! its output goes to the client as it comes, the client's input and terminal size to the
//! command, and its exit code ends the session as a `Status` on the error stream.

pub mod channel;
pub mod process;
pub mod targets;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use channel::Incoming;
use process::{ExecProcess, Streams};
use targets::{ExecTargets, Lookup};

/// How long output may go on after the command exits (a background process holding its
/// output open) before the session ends.
const OUTPUT_AFTER_EXIT: Duration = Duration::from_secs(2);

/// What an exec asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Its streams.
    pub streams: Streams,
}

impl ExecRequest {
    /// Reads the kubelet's query parameters; a request without a command or without any
    /// stream is refused, as Kubernetes refuses it.
    pub fn parse(query: &str) -> Result<ExecRequest, String> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let flag = |name: &str| {
            pairs
                .iter()
                .any(|(k, v)| k == name && (v == "true" || v == "1"))
        };
        let command: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "command")
            .map(|(_, v)| v.clone())
            .collect();
        if command.is_empty() {
            return Err("you must specify a command".into());
        }
        let tty = flag("tty");
        let streams = Streams {
            stdin: flag("stdin"),
            stdout: flag("stdout"),
            // A terminal has one output.
            stderr: flag("stderr") && !tty,
            tty,
        };
        if !(streams.stdin || streams.stdout || streams.stderr) {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        Ok(ExecRequest { command, streams })
    }
}

/// Answers an exec request for `namespace/pod/container`: `101 Switching Protocols`, with
/// the session going on in a task of its own, or why not.
pub fn serve<B>(
    targets: &ExecTargets,
    (namespace, pod, container): (&str, &str, &str),
    mut req: Request<B>,
) -> Result<Response<()>, (StatusCode, String)> {
    let exec = match targets.lookup(namespace, pod, container) {
        Lookup::Exec(exec) => exec,
        Lookup::NotRunning => {
            return Err((
                StatusCode::NOT_FOUND,
                format!(
                    "container {container:?} in pod {namespace}/{pod} is not running on this node"
                ),
            ));
        }
        Lookup::CannotExec => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!(
                    "container {container:?} in pod {namespace}/{pod} runs on a runtime that cannot run commands in it (exec needs a runc container)"
                ),
            ));
        }
    };
    let request = ExecRequest::parse(req.uri().query().unwrap_or(""))
        .map_err(|message| (StatusCode::BAD_REQUEST, message))?;
    let headers = req.headers();
    let header_text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let upgrade = header_text(header::UPGRADE);
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err((
            StatusCode::BAD_REQUEST,
            format!(
                "exec is served over a WebSocket ({}); this request asks for {upgrade:?}",
                channel::PROTOCOLS.join(", ")
            ),
        ));
    }
    let key = header_text(header::SEC_WEBSOCKET_KEY);
    if key.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key".into()));
    }
    let protocol =
        channel::negotiate(header_text(header::SEC_WEBSOCKET_PROTOCOL)).ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                format!(
                    "none of the WebSocket subprotocols offered is served (served: {})",
                    channel::PROTOCOLS.join(", ")
                ),
            )
        })?;
    let accept = derive_accept_key(key.as_bytes());
    let upgraded = hyper::upgrade::on(&mut req);
    let command = exec(&request.command, request.streams.tty);
    tokio::spawn(async move {
        let io = match upgraded.await {
            Ok(io) => TokioIo::new(io),
            Err(e) => {
                tracing::debug!("exec upgrade: {e}");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        session(ws, command, request).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .header(header::SEC_WEBSOCKET_PROTOCOL, protocol)
        .body(())
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Runs the command and relays its streams until it ends and its output is out (or the
/// client goes), then sends the `Status` and closes.
async fn session<S>(ws: WebSocketStream<S>, command: std::process::Command, request: ExecRequest)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut to_client, mut from_client) = ws.split();
    let status = match ExecProcess::spawn(command, request.streams) {
        Err(e) => channel::failure(&format!("cannot run {:?}: {e}", request.command)),
        Ok(mut process) => {
            let mut output_open = true;
            let mut client_open = true;
            let mut exit: Option<i32> = None;
            // Once the command exits, until when its output may go on.
            let mut drain_until = None;
            loop {
                if let (Some(_), false) = (exit, output_open) {
                    break;
                }
                tokio::select! {
                    message = from_client.next(), if client_open => match message {
                        Some(Ok(Message::Binary(data))) => match channel::decode(&data) {
                            Ok(Incoming::Stdin(data)) => process.write(data),
                            Ok(Incoming::StdinClosed) => process.close_input(),
                            Ok(Incoming::Resize { width, height }) => process.resize(width, height),
                            Ok(Incoming::Nothing) => {}
                            Err(message) => tracing::debug!("exec: {message}"),
                        },
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => {
                            client_open = false;
                            process.close_input();
                            process.terminate();
                        }
                    },
                    chunk = process.output.recv(), if output_open => match chunk {
                        Some((stream, data)) if client_open => {
                            let message = Message::Binary(channel::frame(stream, &data).into());
                            if to_client.send(message).await.is_err() {
                                client_open = false;
                                process.terminate();
                            }
                        }
                        Some(_) => {}
                        None => output_open = false,
                    },
                    code = &mut process.exit, if exit.is_none() => {
                        exit = Some(code.unwrap_or(137));
                        drain_until = Some(tokio::time::Instant::now() + OUTPUT_AFTER_EXIT);
                    },
                    () = tokio::time::sleep_until(drain_until.unwrap_or_else(tokio::time::Instant::now)),
                        if drain_until.is_some() => break,
                }
            }
            if !client_open {
                return;
            }
            channel::exit_status(&request.command, exit.unwrap_or(137))
        }
    };
    let status = serde_json::to_vec(&status).unwrap_or_default();
    let _ = to_client
        .send(Message::Binary(
            channel::frame(channel::ERROR, &status).into(),
        ))
        .await;
    // A normal closure: clients read any other close as an error of the session.
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = to_client.send(Message::Close(Some(close))).await;
    let _ = to_client.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_needs_a_command_and_a_stream() {
        let request =
            ExecRequest::parse("command=sh&command=-c&command=echo+hi&stdout=true&stderr=true")
                .ok();
        assert_eq!(
            request.as_ref().map(|r| r.command.join(" ")).as_deref(),
            Some("sh -c echo hi")
        );
        assert!(request.is_some_and(|r| r.streams.stderr && !r.streams.stdin));
        let tty = ExecRequest::parse("command=sh&stdin=1&stdout=1&stderr=1&tty=1").ok();
        assert!(tty.is_some_and(|r| r.streams.tty && !r.streams.stderr));
        assert!(ExecRequest::parse("stdout=true").is_err_and(|e| e.contains("specify a command")));
        assert!(ExecRequest::parse("command=ls").is_err_and(|e| e.contains("at least 1")));
    }
}
