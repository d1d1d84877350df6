//! The pod volumes a node provides, made as the kubelet makes them, in the pod's directory
//! (`<agent-data>/pods/<ns>_<name>_<uid>/.volumes/<volume>`, removed with the pod):
//!
//! - `emptyDir`: an empty directory, shared by the pod's containers for the pod's life;
//! - `configMap` and `secret`: a file per key (or per listed `items` entry, at its `path`),
//!   with `defaultMode` (or the item's `mode`); written again at each container start, a
//!   file at a time, so the files a running container sees are never torn;
//! - `hostPath`: the node's own path.
//!
//! [`mounts`] gives the mounts of one container (`volumeMounts`, with `readOnly` and
//! `subPath`). A volume of another type, or a missing ConfigMap or Secret that is not
//! `optional`, keeps the container from starting with the reason why.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::env::{Kind, read_source};
use crate::client::http::ApiClient;

/// Where the pod's volumes live in its directory (a container name cannot start with `.`,
/// so this never meets a container's logs).
const VOLUMES_DIR: &str = ".volumes";

/// The default file mode of ConfigMap and Secret volumes.
const DEFAULT_MODE: u32 = 0o644;

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The node's path.
    pub host_path: PathBuf,
    /// Where it appears in the container.
    pub container_path: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// Makes the volumes `container` mounts (in the pod's directory `pod_dir`) and returns its
/// mounts.
pub async fn mounts(
    client: &ApiClient,
    pod: &Value,
    container: &Value,
    pod_dir: &Path,
) -> Result<Vec<Mount>, String> {
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let volumes = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut mounts = Vec::new();
    let volume_mounts = container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for volume_mount in &volume_mounts {
        let name = volume_mount
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let container_path = volume_mount
            .get("mountPath")
            .and_then(Value::as_str)
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| format!("volume mount {name:?} has no absolute mountPath"))?;
        let volume = volumes
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| format!("the pod has no volume {name:?}"))?;
        let mut host_path = make(client, namespace, volume, pod_dir).await?;
        if let Some(sub_path) = volume_mount
            .get("subPath")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            host_path = host_path.join(relative(sub_path)?);
            if !host_path.exists() {
                std::fs::create_dir_all(&host_path)
                    .map_err(|e| format!("subPath {sub_path:?}: {e}"))?;
            }
        }
        mounts.push(Mount {
            host_path,
            container_path: container_path.to_string(),
            read_only: volume_mount
                .get("readOnly")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        });
    }
    Ok(mounts)
}

/// Makes one volume and returns its path on the node.
async fn make(
    client: &ApiClient,
    namespace: &str,
    volume: &Value,
    pod_dir: &Path,
) -> Result<PathBuf, String> {
    let name = volume
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let dir = pod_dir.join(VOLUMES_DIR).join(relative(name)?);
    let create =
        |dir: &Path| std::fs::create_dir_all(dir).map_err(|e| format!("volume {name:?}: {e}"));
    if volume.get("emptyDir").is_some() {
        create(&dir)?;
        return Ok(dir);
    }
    if let Some(path) = volume.pointer("/hostPath/path").and_then(Value::as_str) {
        let path = PathBuf::from(path);
        let kind = volume.pointer("/hostPath/type").and_then(Value::as_str);
        if matches!(kind, Some("DirectoryOrCreate")) {
            create(&path)?;
        }
        if !path.exists() && !matches!(kind, None | Some("")) {
            return Err(format!("hostPath {} does not exist", path.display()));
        }
        return Ok(path);
    }
    let (kind, source) = match (volume.get("configMap"), volume.get("secret")) {
        (Some(source), _) => (Kind::ConfigMap, source),
        (None, Some(source)) => (Kind::Secret, source),
        (None, None) => {
            return Err(format!(
                "volume {name:?}: only emptyDir, configMap, secret and hostPath volumes are supported on this node"
            ));
        }
    };
    create(&dir)?;
    let Some(data) = read_source(client, namespace, kind, source).await? else {
        return Ok(dir);
    };
    let default_mode = mode(source.get("defaultMode")).unwrap_or(DEFAULT_MODE);
    let files: Vec<(String, u32, Vec<u8>)> = match source.get("items").and_then(Value::as_array) {
        None => data
            .into_iter()
            .map(|(key, bytes)| (key, default_mode, bytes))
            .collect(),
        Some(items) => {
            let optional = source.get("optional").and_then(Value::as_bool) == Some(true);
            let mut files = Vec::new();
            for item in items {
                let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
                let path = item.get("path").and_then(Value::as_str).unwrap_or(key);
                match data.iter().find(|(k, _)| k == key) {
                    Some((_, bytes)) => files.push((
                        path.to_string(),
                        mode(item.get("mode")).unwrap_or(default_mode),
                        bytes.clone(),
                    )),
                    None if optional => {}
                    None => {
                        return Err(format!("volume {name:?}: key {key:?} is not in its source"));
                    }
                }
            }
            files
        }
    };
    for (path, mode, bytes) in files {
        write_file(&dir.join(relative(&path)?), &bytes, mode)?;
    }
    Ok(dir)
}

/// Writes a file whole: a temporary file renamed over the old one.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{file_name}.partial"));
    std::fs::write(&partial, bytes).map_err(failed)?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(mode)).map_err(failed)?;
    std::fs::rename(&partial, path).map_err(failed)
}

/// A file mode from JSON (Kubernetes gives it in decimal).
fn mode(value: Option<&Value>) -> Option<u32> {
    value
        .and_then(Value::as_u64)
        .and_then(|m| u32::try_from(m).ok())
        .map(|m| m & 0o777)
}

/// `path` as a relative path that stays inside its directory.
fn relative(path: &str) -> Result<PathBuf, String> {
    let path = Path::new(path);
    if path.components().all(|c| matches!(c, Component::Normal(_)))
        && path.components().next().is_some()
    {
        Ok(path.to_path_buf())
    } else {
        Err(format!(
            "path {:?} must be relative and may not contain '..'",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_their_volume() {
        assert!(relative("a/b.txt").is_ok());
        assert!(relative("../etc/passwd").is_err());
        assert!(relative("/etc/passwd").is_err());
        assert!(relative("").is_err());
    }

    #[test]
    fn files_are_written_whole_with_their_mode() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("conf/app.yaml");
        write_file(&file, b"a: 1\n", 0o600).unwrap_or_else(|e| panic!("{e}"));
        write_file(&file, b"a: 2\n", 0o640).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(&file).ok().as_deref(),
            Some("a: 2\n")
        );
        let mode = std::fs::metadata(&file).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o640));
        assert_eq!(
            std::fs::read_dir(dir.path().join("conf"))
                .map(|d| d.count())
                .ok(),
            Some(1)
        );
        assert_eq!(
            mode_of(420),
            Some(0o644),
            "Kubernetes writes modes in decimal"
        );
    }

    fn mode_of(decimal: u64) -> Option<u32> {
        mode(Some(&Value::from(decimal)))
    }
}
