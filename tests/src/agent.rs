//! Node agents for tests: a `keel agent` child process with its own data directory, the
//! test workload as an OCI image layout, and `keel image import` into an agent's store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::json;
use sha2::{Digest, Sha256};

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
/// [`WORKLOAD_IMAGE`].
pub fn import_workload(data_dir: &Path) -> Result<()> {
    let module = std::fs::read(keel_plugin_artifacts::WORKLOAD)?;
    let layout = tempfile::tempdir()?;
    write_wasm_layout(layout.path(), &module, WORKLOAD_IMAGE)?;
    let out = Command::new(keel_binary()?)
        .args(["image", "import"])
        .arg(layout.path())
        .arg("--agent-data-dir")
        .arg(data_dir)
        .output()?;
    if !out.status.success() {
        bail!(
            "keel image import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Writes an OCI image layout at `dir` holding one WebAssembly image, `module`, named
/// `name` (as the `wasm` OCI artifact layout has it: a wasm config and one
/// `application/wasm` layer).
pub fn write_wasm_layout(dir: &Path, module: &[u8], name: &str) -> Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let write_blob = |bytes: &[u8]| -> Result<String> {
        let hex: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(blobs.join(&hex), bytes)?;
        Ok(format!("sha256:{hex}"))
    };
    let config = b"{}";
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json",
                   "digest": write_blob(config)?, "size": config.len()},
        "layers": [{"mediaType": "application/wasm", "digest": write_blob(module)?,
                    "size": module.len()}],
    })
    .to_string();
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": write_blob(manifest.as_bytes())?, "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": name}}],
    });
    std::fs::write(dir.join("index.json"), index.to_string())?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(())
}
