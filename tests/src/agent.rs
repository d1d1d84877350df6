//! Node agents for tests: a `keel agent` child process with its own data directory, with
//! the test workload imported into its image store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

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
    let out = Command::new(keel_binary()?)
        .args(["image", "import-wasm", keel_plugin_artifacts::WORKLOAD])
        .args(["--name", WORKLOAD_IMAGE])
        .arg("--agent-data-dir")
        .arg(data_dir)
        .output()?;
    if !out.status.success() {
        bail!(
            "keel image import-wasm failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
