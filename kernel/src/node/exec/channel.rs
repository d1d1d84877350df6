//! The `channel.k8s.io` WebSocket subprotocol that `kubectl exec` and the Kubernetes
//! client libraries speak to the kubelet: every binary message starts with a byte naming
//! its stream (0 stdin, 1 stdout, 2 stderr, 3 the error stream, 4 terminal resizes) and
//! the rest is that stream's data. Version 5 adds 255, by which the client closes one of
//! its streams (stdin at its end of file). The error stream carries one `Status` at the
//! end: `Success`, or `NonZeroExitCode` with the exit code as a cause.

use serde_json::{Value, json};

/// The subprotocols served, most preferred first.
pub const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The stream numbers.
pub const STDIN: u8 = 0;
/// The command's output.
pub const STDOUT: u8 = 1;
/// The command's error output.
pub const STDERR: u8 = 2;
/// The `Status` the exec ended with.
pub const ERROR: u8 = 3;
/// Terminal resizes, `{"Width": w, "Height": h}`.
pub const RESIZE: u8 = 4;
/// Version 5: the client closes the stream named by the next byte.
pub const CLOSE: u8 = 255;

/// The subprotocol to answer for a `Sec-WebSocket-Protocol` header listing `offered`:
/// the most preferred one served, whatever the client's order.
pub fn negotiate(offered: &str) -> Option<&'static str> {
    let offered: Vec<&str> = offered.split(',').map(str::trim).collect();
    PROTOCOLS
        .iter()
        .find(|protocol| offered.contains(protocol))
        .copied()
}

/// A message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Input for the command.
    Stdin(Vec<u8>),
    /// The client's input ended.
    StdinClosed,
    /// The client's terminal has a new size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// Nothing to act on (an empty message, another stream closed).
    Nothing,
}

/// Reads one binary message from the client.
pub fn decode(message: &[u8]) -> Result<Incoming, String> {
    let Some((&stream, data)) = message.split_first() else {
        return Ok(Incoming::Nothing);
    };
    match stream {
        STDIN => Ok(Incoming::Stdin(data.to_vec())),
        RESIZE => {
            let size: Value = serde_json::from_slice(data)
                .map_err(|e| format!("a resize message is not JSON: {e}"))?;
            let dimension = |name: &str| {
                size.get(name)
                    .and_then(Value::as_u64)
                    .and_then(|v| u16::try_from(v).ok())
                    .ok_or_else(|| format!("a resize message needs {name} (0 to 65535): {size}"))
            };
            Ok(Incoming::Resize {
                width: dimension("Width")?,
                height: dimension("Height")?,
            })
        }
        CLOSE if data.first() == Some(&STDIN) => Ok(Incoming::StdinClosed),
        CLOSE => Ok(Incoming::Nothing),
        other => Err(format!(
            "the client wrote to stream {other}, which is not its to write"
        )),
    }
}

/// A message for the client on `stream`.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(data.len() + 1);
    message.push(stream);
    message.extend_from_slice(data);
    message
}

/// The `Status` for a command that exited with `code`.
pub fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: error executing command {command:?}, exit code {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// The `Status` for an exec that could not run the command.
pub fn failure(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "code": 500,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_protocol_both_sides_know_is_chosen() {
        assert_eq!(
            negotiate("v4.channel.k8s.io, v5.channel.k8s.io"),
            Some("v5.channel.k8s.io")
        );
        assert_eq!(
            negotiate("v4.channel.k8s.io,v3.channel.k8s.io"),
            Some("v4.channel.k8s.io")
        );
        assert_eq!(negotiate("base64.channel.k8s.io"), None);
    }

    #[test]
    fn client_messages_are_read_by_their_stream() {
        assert_eq!(decode(b"\x00hi"), Ok(Incoming::Stdin(b"hi".to_vec())));
        assert_eq!(decode(&[CLOSE, STDIN]), Ok(Incoming::StdinClosed));
        assert_eq!(decode(&[]), Ok(Incoming::Nothing));
        assert_eq!(
            decode(b"\x04{\"Width\":100,\"Height\":33}"),
            Ok(Incoming::Resize {
                width: 100,
                height: 33
            })
        );
        assert!(decode(b"\x04{\"Width\":-1,\"Height\":33}").is_err());
        assert!(decode(b"\x01out").is_err());
    }

    #[test]
    fn an_exit_code_travels_as_a_cause_of_the_status() {
        let command = vec!["sh".to_string(), "-c".to_string(), "exit 3".to_string()];
        let status = exit_status(&command, 3);
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
        assert_eq!(exit_status(&command, 0)["status"], "Success");
        assert_eq!(frame(STDOUT, b"x"), b"\x01x");
    }
}
