//! Writing a kubeconfig that points kubectl and client libraries at Keel.

use std::path::{Path, PathBuf};

/// The kubeconfig for a server at `url`, with context `keel`.
pub fn render(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: keel\n  cluster:\n    server: {url}\n\
         contexts:\n- name: keel\n  context:\n    cluster: keel\n    user: keel\n    namespace: default\n\
         current-context: keel\nusers:\n- name: keel\n  user: {{}}\npreferences: {{}}\n"
    )
}

/// Where kubectl looks: the first path in `$KUBECONFIG`, else `~/.kube/config`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(first) =
        std::env::var_os("KUBECONFIG").and_then(|v| std::env::split_paths(&v).next())
    {
        return Some(first);
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

/// Writes the kubeconfig to `path`. A file there that Keel did not write is
/// kept unless `force`; the error says how to proceed.
pub fn write(path: &Path, url: &str, force: bool) -> Result<(), String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let ours =
            existing.contains("\n- name: keel\n") && existing.contains("current-context: keel");
        if !ours && !force {
            return Err(format!(
                "{} exists and was not written by keel; pass --force to replace it or --out to write elsewhere",
                path.display()
            ));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(path, render(url)).map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_protects_foreign_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("config");
        assert_eq!(write(&path, "http://127.0.0.1:1", false), Ok(()));
        assert_eq!(
            write(&path, "http://127.0.0.1:2", false),
            Ok(()),
            "our own file is replaced"
        );
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.contains("server: http://127.0.0.1:2"));
        std::fs::write(&path, "someone else's").unwrap_or_else(|e| panic!("write: {e}"));
        assert!(write(&path, "http://127.0.0.1:3", false).is_err());
        assert_eq!(write(&path, "http://127.0.0.1:3", true), Ok(()));
    }
}
