//! A busybox image for the `runc` runtime's tests, built from Debian's `busybox-static`
//! (installed by `scripts/setup.sh`) as an OCI image layout: one gzip-compressed layer
//! holding `/bin/busybox` and a link per applet the tests use, and a configuration that
//! runs `sh`, as the Docker Hub image does.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::agent::keel_image;

/// The name tests give the image.
pub const BUSYBOX_IMAGE: &str = "keel.test/busybox:v1";

/// Where Debian's `busybox-static` puts the static binary.
const BUSYBOX: &str = "/bin/busybox";

/// The applets linked into the image.
const APPLETS: [&str; 21] = [
    "sh", "echo", "cat", "sleep", "ls", "pwd", "httpd", "wget", "ip", "ps", "true", "false",
    "test", "hostname", "touch", "rm", "mkdir", "stat", "cut", "wc", "stty",
];

/// Writes the image layout under `dir` and returns its path.
pub fn layout(dir: &Path) -> Result<PathBuf> {
    let binary = std::fs::read(BUSYBOX)
        .with_context(|| format!("{BUSYBOX} (Debian's busybox-static; run scripts/setup.sh)"))?;
    let layout = dir.join("busybox-layout");
    std::fs::create_dir_all(layout.join("blobs/sha256"))?;
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;

    let mut tar = tar::Builder::new(Vec::new());
    for directory in ["bin/", "tmp/", "etc/", "www/"] {
        let mut header = header(tar::EntryType::Directory, 0, 0o755);
        if directory == "tmp/" {
            header.set_mode(0o1777);
        }
        header.set_cksum();
        tar.append_data(&mut header, directory, std::io::empty())?;
    }
    let mut file = header(tar::EntryType::Regular, binary.len() as u64, 0o755);
    file.set_cksum();
    tar.append_data(&mut file, "bin/busybox", &binary[..])?;
    for applet in APPLETS {
        let mut link = header(tar::EntryType::Symlink, 0, 0o777);
        tar.append_link(&mut link, format!("bin/{applet}"), "busybox")?;
    }
    let passwd = "root:x:0:0:root:/root:/bin/sh\n";
    let mut etc = header(tar::EntryType::Regular, passwd.len() as u64, 0o644);
    etc.set_cksum();
    tar.append_data(&mut etc, "etc/passwd", passwd.as_bytes())?;
    let uncompressed = tar.into_inner()?;
    let diff_id = sha256(&uncompressed);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &uncompressed)?;
    let layer = gz.finish()?;

    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"]
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}
    })
    .to_string();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(&layout, "application/vnd.oci.image.config.v1+json", config.as_bytes())?,
        "layers": [blob(&layout, "application/vnd.oci.image.layer.v1.tar+gzip", &layer)?],
    })
    .to_string();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [blob(&layout, "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes())?],
    });
    std::fs::write(layout.join("index.json"), index.to_string())?;
    Ok(layout)
}

/// Builds the image and imports it into the store of the agent at `data_dir` as
/// [`BUSYBOX_IMAGE`] (`keel image import`).
pub fn import(data_dir: &Path) -> Result<()> {
    let layout = layout(data_dir.parent().unwrap_or(data_dir))?;
    let layout = layout.to_string_lossy();
    keel_image(data_dir, &["import", &layout, "--name", BUSYBOX_IMAGE])
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Writes `bytes` as a blob of the layout and returns its descriptor.
fn blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Result<serde_json::Value> {
    let digest = sha256(bytes);
    let hex = digest.trim_start_matches("sha256:");
    std::fs::write(layout.join("blobs/sha256").join(hex), bytes)?;
    Ok(serde_json::json!({"mediaType": media_type, "digest": digest, "size": bytes.len()}))
}
