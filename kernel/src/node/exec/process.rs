//! The command an exec runs, on the agent's side. Without a terminal its standard streams
//! are pipes. With one, the agent opens a pseudo-terminal and gives its slave to the
//! runtime's command as stdin, stdout and stderr: runc relays a terminal on its own stdio
//! into the container, and `setsid --ctty` makes the slave runc's controlling terminal,
//! so a size set on the master reaches runc as `SIGWINCH` and runc passes it on. Threads
//! move the bytes; the session reads them from channels.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::channel::{STDERR, STDOUT};
use crate::node::runtime::ExecResult;

/// The streams the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    /// The client sends input.
    pub stdin: bool,
    /// The client reads the output.
    pub stdout: bool,
    /// The client reads the error output (not with a terminal, which has one output).
    pub stderr: bool,
    /// The command runs on a terminal.
    pub tty: bool,
}

/// A running exec command.
pub struct ExecProcess {
    /// Output, tagged with its stream; closed when every output has ended.
    pub output: mpsc::Receiver<(u8, Vec<u8>)>,
    /// The exit code (128 + the signal for a command killed by one).
    pub exit: oneshot::Receiver<i32>,
    input: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    terminal: Option<File>,
    pid: u32,
}

/// Bytes read at a time from an output.
const CHUNK: usize = 32 * 1024;

impl ExecProcess {
    /// Starts `command` (the runtime's command that runs the exec in the container) with
    /// `streams`.
    pub fn spawn(command: Command, streams: Streams) -> std::io::Result<ExecProcess> {
        let (output_tx, output) = mpsc::channel(64);
        let (exit_tx, exit) = oneshot::channel();
        let (input, terminal, child) = if streams.tty {
            let (master, slave) = open_terminal()?;
            let mut wrapped = Command::new("setsid");
            wrapped
                .arg("--ctty")
                .arg("--wait")
                .arg(command.get_program())
                .args(command.get_args())
                .stdin(slave.try_clone()?)
                .stdout(slave.try_clone()?)
                .stderr(slave);
            let child = wrapped.spawn()?;
            // The command holds the slave; the master reads EIO once it lets go.
            drop(wrapped);
            read_into(master.try_clone()?, STDOUT, output_tx);
            let input = streams.stdin.then(|| write_from(master.try_clone()));
            (input.transpose()?, Some(master), child)
        } else {
            let pipe = |wanted: bool| {
                if wanted {
                    Stdio::piped()
                } else {
                    Stdio::null()
                }
            };
            let mut command = command;
            let mut child = command
                .stdin(pipe(streams.stdin))
                .stdout(pipe(streams.stdout))
                .stderr(pipe(streams.stderr))
                .spawn()?;
            if let Some(stdout) = child.stdout.take() {
                read_into(stdout, STDOUT, output_tx.clone());
            }
            if let Some(stderr) = child.stderr.take() {
                read_into(stderr, STDERR, output_tx);
            }
            let input = child.stdin.take().map(|stdin| write_from(Ok(stdin)));
            (input.transpose()?, None, child)
        };
        let pid = child.id();
        let mut child = child;
        std::thread::Builder::new()
            .name("keel-exec-wait".into())
            .spawn(move || {
                let code = match child.wait() {
                    Ok(status) => status
                        .code()
                        .or_else(|| status.signal().map(|signal| 128 + signal))
                        .unwrap_or(137),
                    Err(_) => 137,
                };
                let _ = exit_tx.send(code);
            })?;
        Ok(ExecProcess {
            output,
            exit,
            input,
            terminal,
            pid,
        })
    }

    /// Passes input to the command.
    pub fn write(&self, data: Vec<u8>) {
        if let Some(input) = &self.input {
            let _ = input.send(data);
        }
    }

    /// Ends the command's input (without a terminal: its end of file).
    pub fn close_input(&mut self) {
        self.input = None;
    }

    /// Gives the terminal a new size.
    pub fn resize(&self, width: u16, height: u16) {
        if let Some(terminal) = &self.terminal {
            let size = rustix::termios::Winsize {
                ws_row: height,
                ws_col: width,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            if let Err(e) = rustix::termios::tcsetwinsize(terminal, size) {
                tracing::debug!("exec resize: {e}");
            }
        }
    }

    /// Waits for the command to end, with all its output, within `timeout` (an exec
    /// probe); a command still running then is asked to end.
    pub async fn run_to_end(mut self, timeout: Duration) -> Result<ExecResult, String> {
        let mut output = Vec::new();
        let collected = tokio::time::timeout(timeout, async {
            while let Some((_, data)) = self.output.recv().await {
                output.extend_from_slice(&data);
            }
            (&mut self.exit).await.unwrap_or(137)
        })
        .await;
        match collected {
            Ok(code) => Ok(ExecResult {
                code,
                output: String::from_utf8_lossy(&output).into_owned(),
            }),
            Err(_) => {
                self.terminate();
                Err(format!("command timed out after {timeout:?}"))
            }
        }
    }

    /// Asks the command to end: runc passes `SIGTERM` on to the process it runs.
    pub fn terminate(&self) {
        let pid = i32::try_from(self.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
}

/// A new pseudo-terminal: its master and its slave, 80 by 24 until the client says.
fn open_terminal() -> std::io::Result<(File, File)> {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::OpenptFlags;
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let size = rustix::termios::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&master, size)?;
    Ok((File::from(master), File::from(slave)))
}

/// Copies `from` into `to`, tagged `stream`, until it ends (a terminal's master ends with
/// an error once its slave is closed).
fn read_into(mut from: impl Read + Send + 'static, stream: u8, to: mpsc::Sender<(u8, Vec<u8>)>) {
    let _ = std::thread::Builder::new()
        .name("keel-exec-output".into())
        .spawn(move || {
            let mut buffer = vec![0u8; CHUNK];
            loop {
                match from.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if to.blocking_send((stream, buffer[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        });
}

/// A thread writing what is sent to it into `to`; `to` is closed when the sender goes.
fn write_from(
    to: std::io::Result<impl Write + Send + 'static>,
) -> std::io::Result<std::sync::mpsc::Sender<Vec<u8>>> {
    let mut to = to?;
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name("keel-exec-input".into())
        .spawn(move || {
            for data in rx {
                if to.write_all(&data).and_then(|()| to.flush()).is_err() {
                    return;
                }
            }
        })?;
    Ok(tx)
}
