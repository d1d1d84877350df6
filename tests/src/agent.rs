//! Node agents for tests: a `keel agent` child process with its own data directory, with
//! the test workload imported into its image store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::{keel_binary, kill9};

/// The name tests give the workload image.
pub const WORKLOAD_IMAGE: &str = "keel.test/workload:v1";

/// A `keel agent` child process.
pub struct Agent {
    child: Option<Child>,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its node's name.
    pub name: String,
}

impl Agent {
    /// Starts an agent for node `name` against the server at `server`, keeping its data
    /// in `data_dir`, with the workload image imported and `extra` flags.
    pub fn start(server: &str, data_dir: &Path, name: &str, extra: &[&str]) -> Result<Agent> {
        std::fs::create_dir_all(data_dir)?;
        import_workload(data_dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.with_extension("log"))?;
        let child = Command::new(keel_binary()?)
            .args(["agent", "--server", server, "--name", name])
            .arg("--agent-data-dir")
            .arg(data_dir)
            .args(["--agent-listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting keel agent")?;
        Ok(Agent {
            child: Some(child),
            data_dir: data_dir.to_path_buf(),
            name: name.to_string(),
        })
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) -> Result<()> {
        kill9(&mut self.child)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}

/// Imports the test workload into the store of the agent at `data_dir`, as
/// [`WORKLOAD_IMAGE`] (`keel image import-wasm`).
pub fn import_workload(data_dir: &Path) -> Result<()> {
    keel_image(
        data_dir,
        &[
            "import-wasm",
            keel_plugin_artifacts::WORKLOAD,
            "--name",
            WORKLOAD_IMAGE,
        ],
    )
}

/// Runs `keel image ARGS` on the image store of the agent at `data_dir`.
pub fn keel_image(data_dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(keel_binary()?)
        .arg("image")
        .args(args)
        .arg("--agent-data-dir")
        .arg(data_dir)
        .output()?;
    if !out.status.success() {
        bail!(
            "keel image {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Polls `get` until `done` holds of what it returns, for up to `timeout`.
pub async fn eventually<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut get: F,
    done: impl Fn(&T) -> bool,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
    T: std::fmt::Debug,
{
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < timeout {
        if let Ok(value) = get().await {
            if done(&value) {
                return Ok(value);
            }
            last = Some(value);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{what} did not happen within {timeout:?}; last seen: {last:#?}")
}

/// A pod as JSON.
pub fn pod_json(pod: &Pod) -> Value {
    serde_json::to_value(pod).unwrap_or_default()
}

/// A Pod named `name` in `default` with `spec`.
pub fn pod(name: &str, spec: Value) -> Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))?)
}
