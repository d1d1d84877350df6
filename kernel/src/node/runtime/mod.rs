//! The node's container runtimes behind one trait. A pod's `runtimeClassName` names a
//! RuntimeClass whose `handler` picks the runtime; a pod without one runs on the default,
//! `wasm` (WASI 0.2 components in wasmtime, [`wasm`]).
//!
//! A runtime starts one run of a container and hands back a [`Running`]: its exit, and a
//! way to stop it. Restarts, back-off and status are the pod worker's business.

pub mod bundle;
pub mod runc;
pub mod wasm;

use std::time::Duration;

use tokio::sync::oneshot;

use super::images::ImageError;
use super::logs::RunLog;

/// The handler name of the embedded WebAssembly runtime.
pub const WASM: &str = "wasm";

/// What a runtime needs to start one run of a container.
#[derive(Clone)]
pub struct ContainerSpec {
    /// The run's id, unique on the node: `<pod uid>-<container>-<run>`.
    pub id: String,
    /// The container's name.
    pub name: String,
    /// The image reference, as the pod gives it.
    pub image: String,
    /// The container's `command`; empty for the image's entrypoint.
    pub command: Vec<String>,
    /// Its `args`.
    pub args: Vec<String>,
    /// Its `workingDir`.
    pub working_dir: Option<String>,
    /// Its hostname: the pod's name.
    pub hostname: String,
    /// The pod's network namespace (a path), `None` for the node's.
    pub network_namespace: Option<String>,
    /// The volumes it mounts.
    pub mounts: Vec<super::volumes::Mount>,
    /// Environment variables, in order.
    pub env: Vec<(String, String)>,
    /// CPU the run may use, in thousandths of a core (`resources.limits.cpu`).
    pub cpu_millis: Option<u64>,
    /// Memory the run may use, in bytes (`resources.limits.memory`).
    pub memory_bytes: Option<u64>,
    /// Where its output goes.
    pub log: RunLog,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code (137 when it was killed).
    pub code: i32,
    /// Kubernetes' reason: `Completed`, `Error` or `OOMKilled`.
    pub reason: &'static str,
    /// What went wrong, if anything is known.
    pub message: Option<String>,
}

impl Exit {
    /// A run that was stopped from outside.
    pub fn killed() -> Exit {
        Exit {
            code: 137,
            reason: "Error",
            message: None,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartError {
    /// The image could not be found or read (`ErrImagePull`).
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The container could not be made (`CreateContainerError`): a module that does not
    /// compile or link, a bad spec.
    #[error("{0}")]
    Create(String),
}

impl StartError {
    /// The waiting reason Kubernetes shows for it.
    pub fn reason(&self) -> &'static str {
        match self {
            StartError::Image(_) => "ErrImagePull",
            StartError::Create(_) => "CreateContainerError",
        }
    }
}

/// What a command run in a container gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// Its exit code.
    pub code: i32,
    /// Its output, stdout and stderr as they came.
    pub output: String,
}

/// The host command that runs `argv` in a running container (on a terminal of its own
/// stdio when the flag says so), for exec probes and `kubectl exec`.
pub type Exec = std::sync::Arc<dyn Fn(&[String], bool) -> std::process::Command + Send + Sync>;

/// A run in progress.
pub struct Running {
    /// The runtime's id of the run (`wasm://<id>`), the container's `containerID`.
    pub id: String,
    /// The image's digest, the container's `imageID`.
    pub image_id: String,
    exit: oneshot::Receiver<Exit>,
    stop: Option<Box<dyn FnOnce(Duration) + Send>>,
    exec: Option<Exec>,
}

impl Running {
    /// A run whose end arrives on `exit`, stopped by calling `stop` with the grace period.
    pub fn new(
        id: String,
        image_id: String,
        exit: oneshot::Receiver<Exit>,
        stop: Box<dyn FnOnce(Duration) + Send>,
    ) -> Running {
        Running {
            id,
            image_id,
            exit,
            stop: Some(stop),
            exec: None,
        }
    }

    /// The run, able to run commands in its container with `exec`.
    pub fn with_exec(self, exec: Exec) -> Running {
        Running {
            exec: Some(exec),
            ..self
        }
    }

    /// Runs commands in the container, if the runtime can.
    pub fn exec(&self) -> Option<Exec> {
        self.exec.clone()
    }

    /// Waits for the run to end. Cancel-safe: waiting again after a cancelled wait goes on.
    pub async fn wait(&mut self) -> Exit {
        (&mut self.exit).await.unwrap_or_else(|_| Exit::killed())
    }

    /// Asks the run to stop within `grace`, after which it is killed; [`Running::wait`]
    /// says when it did. Stopping twice does nothing more.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(stop) = self.stop.take() {
            stop(grace);
        }
    }
}

/// A container runtime.
pub trait Runtime: Send + Sync {
    /// Its RuntimeClass handler name.
    fn handler(&self) -> &'static str;

    /// Whether its pods get a network namespace of their own (and so an address from the
    /// node's network plugin); pods of other runtimes share the node's address.
    fn isolates_network(&self) -> bool {
        false
    }

    /// Starts one run. May block (compiling a module, calling an OCI runtime): callers run
    /// it on a blocking thread.
    fn start(&self, spec: ContainerSpec) -> Result<Running, StartError>;
}

/// The runtimes a node offers, by handler.
pub struct Runtimes {
    runtimes: Vec<std::sync::Arc<dyn Runtime>>,
}

impl Runtimes {
    /// The node's runtimes; the first is the default for pods without a RuntimeClass.
    pub fn new(runtimes: Vec<std::sync::Arc<dyn Runtime>>) -> Runtimes {
        Runtimes { runtimes }
    }

    /// Their handler names.
    pub fn handlers(&self) -> Vec<&'static str> {
        self.runtimes.iter().map(|r| r.handler()).collect()
    }

    /// The runtime for a pod whose `runtimeClassName` is `class`: the RuntimeClass's
    /// `handler`, or the default without one.
    pub async fn for_pod(
        &self,
        client: &crate::client::http::ApiClient,
        class: Option<&str>,
    ) -> Result<std::sync::Arc<dyn Runtime>, String> {
        let handler = match class {
            None => return self.runtimes.first().cloned().ok_or("no runtime".into()),
            Some(class) => client
                .get(&format!("/apis/node.k8s.io/v1/runtimeclasses/{class}"))
                .await
                .map_err(|e| format!("RuntimeClass {class:?}: {e}"))?
                .get("handler")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        self.runtimes
            .iter()
            .find(|r| r.handler() == handler)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "this node has no runtime handler {handler:?} (it offers {})",
                    self.handlers().join(", ")
                )
            })
    }
}
