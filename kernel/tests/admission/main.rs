//! Admission in one process: the store's atomic writes that quota charges ride on, the
//! watch-backed cache plugins read, and the chain itself (mutation, denial, warn mode,
//! rules, namespace selectors, failure policy, exemption of Plugin objects) with the
//! `echo` test plugin.

mod atomic;
mod cache;
mod chain;

use keel::cluster::{InProcess, ServerConfig};

/// A server on a free port over a fresh directory.
pub async fn server() -> (tempfile::TempDir, InProcess) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = ServerConfig::new(dir.path().to_path_buf(), ([127, 0, 0, 1], 0).into());
    let server = InProcess::start(config)
        .await
        .unwrap_or_else(|e| panic!("server: {e}"));
    (dir, server)
}
