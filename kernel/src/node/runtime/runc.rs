//! The `runc` runtime: OCI containers. For each run the agent
//!
//! 1. resolves the image in the node's store and unpacks it once ([`Rootfs`]);
//! 2. makes a bundle, `<agent-data>/runc/bundles/<run id>`: an overlay of the image and
//!    the run's own writable layer as `rootfs`, and a `config.json` ([`bundle`]);
//! 3. runs `runc run --keep` in the foreground, so its stdout and stderr are the
//!    container's, read into the run's log, and its exit status is the container's; the
//!    run is handed back once runc has made the container (its state is written);
//! 4. once it exits, reads the cgroup's OOM-kill count (why a run that was killed with
//!    SIGKILL ended), deletes the container and unmounts the bundle.
//!
//! Stopping sends SIGTERM, then SIGKILL to every process of the container when the grace
//! period is over. runc's own errors (an executable that is not there) go to a log file of
//! the bundle, not the container's output, and end the run as `StartError` with exit code
//! 128, as Kubernetes reports them.
//!
//! Every runc container of the agent lives under its own runc state root
//! (`<agent-data>/runc/state`); an agent that starts deletes the containers an earlier
//! life left there, and their bundles, before it runs anything.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::bundle::{self, Placement};
use super::{ContainerSpec, Exec, Exit, Running, Runtime, StartError};
use crate::node::images::ImageStore;
use crate::node::logs::{RunLog, Stream};
use crate::node::rootfs::{Overlay, Rootfs};

/// The handler name of the OCI runtime.
pub const RUNC: &str = "runc";

/// How long a start waits for runc to make the container.
const CREATE_WAIT: Duration = Duration::from_secs(10);

/// Where runs' cgroups go, under each controller's root.
const CGROUP_PARENT: &str = "/keel";

/// The runtime.
pub struct RuncRuntime {
    runc: Runc,
    bundles: PathBuf,
    images: Arc<ImageStore>,
    rootfs: Rootfs,
}

impl RuncRuntime {
    /// A runtime calling `binary`, keeping its state under `data_dir`, reading images
    /// from `images`. Fails when `binary` does not run.
    pub fn new(
        binary: &Path,
        data_dir: &Path,
        images: Arc<ImageStore>,
    ) -> Result<RuncRuntime, String> {
        let version = Command::new(binary)
            .arg("--version")
            .output()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        if !version.status.success() {
            return Err(format!("{} --version failed", binary.display()));
        }
        let runtime = RuncRuntime {
            runc: Runc {
                binary: binary.to_path_buf(),
                state: data_dir.join("runc/state"),
            },
            bundles: data_dir.join("runc/bundles"),
            images,
            rootfs: Rootfs::new(data_dir.join("rootfs"))?,
        };
        for dir in [&runtime.runc.state, &runtime.bundles] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        runtime.remove_leftovers();
        Ok(runtime)
    }

    /// Deletes the containers and bundles an earlier life of the agent left.
    fn remove_leftovers(&self) {
        let listed = self
            .runc
            .command()
            .args(["list", "--format", "json"])
            .output();
        let ids: Vec<String> = listed
            .ok()
            .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok())
            .and_then(|list| list.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.get("id").and_then(serde_json::Value::as_str))
            .map(str::to_string)
            .collect();
        for id in ids {
            tracing::info!(container = %id, "deleting a container left by an earlier agent");
            self.runc.delete(&id);
        }
        if let Ok(entries) = std::fs::read_dir(&self.bundles) {
            for entry in entries.flatten() {
                Overlay::remove(&entry.path());
            }
        }
    }
}

impl Runtime for RuncRuntime {
    fn handler(&self) -> &'static str {
        RUNC
    }

    fn isolates_network(&self) -> bool {
        true
    }

    fn start(&self, spec: ContainerSpec) -> Result<Running, StartError> {
        let image = self.images.resolve(&spec.image)?;
        let image_config = self.images.config(&image)?;
        let lower = self.rootfs.unpacked(&self.images, &image)?;
        let id = spec.id.clone();
        let bundle = self.bundles.join(&id);
        Overlay::remove(&bundle);
        let overlay = Overlay::mount(&bundle, &lower).map_err(StartError::Create)?;
        let cgroups_path = format!("{CGROUP_PARENT}/{id}");
        let placement = Placement {
            hostname: &spec.hostname,
            cgroups_path: &cgroups_path,
            network_namespace: spec.network_namespace.as_deref(),
        };
        let config =
            bundle::config(&spec, &image_config, &placement).map_err(StartError::Create)?;
        config
            .save(bundle.join("config.json"))
            .map_err(|e| StartError::Create(format!("config.json: {e}")))?;
        let runc_log = bundle.join("runc.log");
        let mut child = self
            .runc
            .command()
            .arg("--log")
            .arg(&runc_log)
            .arg("--log-format")
            .arg("json")
            .args(["run", "--keep", "--bundle"])
            .arg(&bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| StartError::Create(format!("{}: {e}", self.runc.binary.display())))?;
        let pumps: Vec<_> = [
            child
                .stdout
                .take()
                .map(|out| pump(out, spec.log.clone(), Stream::Stdout)),
            child
                .stderr
                .take()
                .map(|err| pump(err, spec.log.clone(), Stream::Stderr)),
        ]
        .into_iter()
        .flatten()
        .collect();

        let (exit_tx, exit_rx) = oneshot::channel();
        // Dropped when the run is over: a stop waiting out the grace period wakes then.
        let (ended_tx, ended_rx) = mpsc::channel::<()>();
        let runc = self.runc.clone();
        let log = spec.log.clone();
        let waited_id = id.clone();
        std::thread::Builder::new()
            .name("keel-runc-wait".into())
            .spawn(move || {
                let status = child.wait();
                for pump in pumps {
                    let _ = pump.join();
                }
                let oom = oom_killed(&cgroups_path);
                let failure = runc_error(&runc_log);
                runc.delete(&waited_id);
                drop(overlay);
                log.finish();
                drop(ended_tx);
                let code = status.ok().and_then(|s| s.code()).unwrap_or(137);
                let _ = exit_tx.send(exit_of(code, oom, failure));
            })
            .map_err(|e| StartError::Create(format!("cannot wait for the container: {e}")))?;

        // The run is reported once runc has made the container (its cgroup is there and
        // commands can run in it), or once it is over.
        let created = self.runc.state.join(&id).join("state.json");
        let deadline = std::time::Instant::now() + CREATE_WAIT;
        while !created.exists() && std::time::Instant::now() < deadline {
            if let Err(RecvTimeoutError::Disconnected) =
                ended_rx.recv_timeout(Duration::from_millis(5))
            {
                break;
            }
        }

        let runc = self.runc.clone();
        let stopped_id = id.clone();
        let stop = Box::new(move |grace: Duration| {
            let _ = std::thread::Builder::new()
                .name("keel-runc-stop".into())
                .spawn(move || {
                    runc.signal(&stopped_id, "TERM", false);
                    if let Err(RecvTimeoutError::Timeout) = ended_rx.recv_timeout(grace) {
                        runc.signal(&stopped_id, "KILL", true);
                    }
                });
        });
        let running = Running::new(format!("runc://{id}"), image.digest, exit_rx, stop);
        let runc = self.runc.clone();
        let exec: Exec = Arc::new(move |argv: &[String], tty: bool| {
            let mut command = runc.command();
            command.arg("exec");
            if tty {
                command.arg("--tty");
            }
            command.arg(&id).args(argv);
            command
        });
        Ok(running.with_exec(exec))
    }
}

/// Copies one of the container's output streams into its log until it closes.
fn pump(
    mut from: impl Read + Send + 'static,
    log: RunLog,
    stream: Stream,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => log.write(stream, &buffer[..n]),
            }
        }
    })
}

/// `runc --root <state>`: how the runtime calls runc.
#[derive(Clone)]
struct Runc {
    binary: PathBuf,
    state: PathBuf,
}

impl Runc {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--root").arg(&self.state);
        command
    }

    /// Sends `signal` to the container's init process (`all`: to each of its processes).
    fn signal(&self, id: &str, signal: &str, all: bool) {
        let mut command = self.command();
        command.arg("kill");
        if all {
            command.arg("--all");
        }
        let _ = command
            .arg(id)
            .arg(signal)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Deletes the container, killing what still runs in it.
    fn delete(&self, id: &str) {
        let deleted = self
            .command()
            .args(["delete", "--force", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !deleted.is_ok_and(|s| s.success()) {
            tracing::warn!(container = %id, "runc delete failed");
        }
    }
}

/// Whether the kernel's OOM killer ended a process of the cgroup (cgroup v1 or v2).
fn oom_killed(cgroups_path: &str) -> bool {
    let files = [
        format!("/sys/fs/cgroup/memory{cgroups_path}/memory.oom_control"),
        format!("/sys/fs/cgroup{cgroups_path}/memory.events"),
    ];
    files
        .iter()
        .any(|file| std::fs::read_to_string(file).is_ok_and(|text| oom_kills(&text) > 0))
}

/// The `oom_kill` count of a cgroup's `memory.oom_control` or `memory.events`.
fn oom_kills(text: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// The last error runc itself logged for a run (in its JSON log), if any.
fn runc_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry.get("level").and_then(serde_json::Value::as_str) == Some("error"))
        .filter_map(|entry| {
            entry
                .get("msg")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        })
        .next()
}

/// How a run reads as an exit: its code, an OOM kill, or runc failing to start it.
fn exit_of(code: i32, oom: bool, runc_failure: Option<String>) -> Exit {
    if let Some(message) = runc_failure {
        return Exit {
            code: 128,
            reason: "StartError",
            message: Some(message),
        };
    }
    if oom {
        return Exit {
            code,
            reason: "OOMKilled",
            message: None,
        };
    }
    Exit {
        code,
        reason: if code == 0 { "Completed" } else { "Error" },
        message: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kills_read_from_either_cgroup_version() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n";
        let v2 = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n";
        assert_eq!(oom_kills(v1), 1);
        assert_eq!(oom_kills(v2), 2);
        assert_eq!(oom_kills("oom_kill_disable 0\n"), 0);
    }

    #[test]
    fn runc_failures_are_start_errors_and_oom_kills_say_so() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = dir.path().join("runc.log");
        std::fs::write(
            &log,
            "{\"level\":\"info\",\"msg\":\"x\"}\n{\"level\":\"error\",\"msg\":\"exec: \\\"nope\\\": executable file not found in $PATH\"}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let failure = runc_error(&log);
        assert!(
            failure
                .as_deref()
                .is_some_and(|m| m.contains("executable file not found"))
        );
        let exit = exit_of(1, false, failure);
        assert_eq!((exit.code, exit.reason), (128, "StartError"));
        assert_eq!(exit_of(137, true, None).reason, "OOMKilled");
        assert_eq!(exit_of(0, false, None).reason, "Completed");
        assert_eq!(exit_of(3, false, None).reason, "Error");
        assert_eq!(runc_error(&dir.path().join("absent")), None);
    }
}
