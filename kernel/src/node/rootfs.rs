//! Root filesystems for OCI containers. Each image's layers are unpacked once, in order,
//! into a directory named by the manifest digest (`<agent-data>/rootfs/<hex>`), with the
//! OCI whiteouts applied. A container never writes there: [`Overlay`] mounts it as the
//! read-only lower layer of an overlay whose upper layer is the container's own, and
//! unmounts it when the run is over.
//!
//! An image is unpacked into a temporary directory and renamed into place, so a directory
//! that exists is whole. Entries that would land outside the directory (`..`, absolute
//! paths, links through symlinks) are refused, as the `tar` crate's `unpack_in` refuses
//! them.

use std::ffi::CString;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use oci_spec::image::{Descriptor, MediaType};

use super::images::{Image, ImageError, ImageStore};

/// The whiteout prefix: `.wh.name` in a layer deletes `name` of the layers below.
const WHITEOUT: &str = ".wh.";
/// The opaque whiteout: the directory holding it hides what the layers below put there.
const OPAQUE: &str = ".wh..wh..opq";

/// The unpacked images of a node.
pub struct Rootfs {
    dir: PathBuf,
    /// Unpacking is one at a time: two containers of one new image unpack it once.
    unpacking: Mutex<()>,
}

impl Rootfs {
    /// Unpacked images under `dir`.
    pub fn new(dir: PathBuf) -> Result<Rootfs, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Rootfs {
            dir,
            unpacking: Mutex::new(()),
        })
    }

    /// The directory holding `image`'s files, unpacked from `store` the first time.
    pub fn unpacked(&self, store: &ImageStore, image: &Image) -> Result<PathBuf, ImageError> {
        let invalid = |message: String| ImageError::Invalid {
            image: image.name.clone(),
            message,
        };
        let hex = image
            .digest
            .strip_prefix("sha256:")
            .ok_or_else(|| invalid(format!("digest {} is not sha256", image.digest)))?;
        let target = self.dir.join(hex);
        let _one_at_a_time = self
            .unpacking
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if target.is_dir() {
            return Ok(target);
        }
        let partial = self.dir.join(format!("{hex}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(|e| invalid(format!("rootfs: {e}")))?;
        for layer in image.manifest.layers() {
            let bytes = store.layer(image, layer)?;
            apply_layer(layer, &bytes, &partial)
                .map_err(|e| invalid(format!("layer {}: {e}", layer.digest())))?;
        }
        std::fs::rename(&partial, &target).map_err(|e| invalid(format!("rootfs: {e}")))?;
        Ok(target)
    }
}

/// Applies one layer (a tar, gzip-compressed or not) on top of `root`.
pub fn apply_layer(layer: &Descriptor, bytes: &[u8], root: &Path) -> Result<(), String> {
    let media_type = layer.media_type().to_string();
    match layer.media_type() {
        MediaType::ImageLayer | MediaType::ImageLayerNonDistributable => apply_tar(bytes, root),
        MediaType::ImageLayerGzip | MediaType::ImageLayerNonDistributableGzip => {
            apply_tar(flate2::read::GzDecoder::new(bytes), root)
        }
        _ if media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            apply_tar(flate2::read::GzDecoder::new(bytes), root)
        }
        _ => Err(format!(
            "media type {media_type} is not a layer this node unpacks (tar or tar+gzip)"
        )),
    }
}

/// Unpacks a layer's tar stream on top of `root`, applying its whiteouts.
pub fn apply_tar(reader: impl Read, root: &Path) -> Result<(), String> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    let entries = archive.entries().map_err(|e| format!("not a tar: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("bad entry: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("bad entry path: {e}"))?
            .into_owned();
        let relative = inside(&path)?;
        let name = relative
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let parent = root.join(relative.parent().unwrap_or(Path::new("")));
        if name == OPAQUE {
            clear_dir(&parent)?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            remove(&parent.join(hidden))?;
            continue;
        }
        // A file that replaces a directory of a lower layer, or the other way round.
        let target = root.join(&relative);
        if let Ok(existing) = std::fs::symlink_metadata(&target) {
            let is_dir = entry.header().entry_type().is_dir();
            if existing.is_dir() != is_dir || (!is_dir && existing.file_type().is_symlink()) {
                remove(&target)?;
            }
        }
        entry.unpack_in(root).map_err(|e| {
            let cause = std::error::Error::source(&e).map(|c| format!(": {c}"));
            format!("{}: {e}{}", path.display(), cause.unwrap_or_default())
        })?;
    }
    Ok(())
}

/// `path` as a relative path with no `..`, or why not.
fn inside(path: &Path) -> Result<PathBuf, String> {
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!("entry {} leaves the root", path.display()));
            }
        }
    }
    Ok(relative)
}

fn remove(path: &Path) -> Result<(), String> {
    let result = match std::fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.map_err(|e| format!("whiteout {}: {e}", path.display()))
}

fn clear_dir(dir: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        remove(&entry.path())?;
    }
    Ok(())
}

/// A container's root: an overlay of its image (read-only) and its own writable layer,
/// mounted at `<bundle>/rootfs` while it lives.
pub struct Overlay {
    bundle: PathBuf,
}

impl Overlay {
    /// Mounts `lower` with a fresh upper layer at `<bundle>/rootfs`.
    pub fn mount(bundle: &Path, lower: &Path) -> Result<Overlay, String> {
        let overlay = Overlay {
            bundle: bundle.to_path_buf(),
        };
        for dir in ["upper", "work", "rootfs"] {
            let path = bundle.join(dir);
            std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            bundle.join("upper").display(),
            bundle.join("work").display()
        );
        let options = CString::new(options).map_err(|e| format!("overlay options: {e}"))?;
        rustix::mount::mount(
            "overlay",
            bundle.join("rootfs"),
            "overlay",
            rustix::mount::MountFlags::empty(),
            Some(options.as_c_str()),
        )
        .map_err(|e| format!("cannot mount the container's root filesystem: {e}"))?;
        Ok(overlay)
    }

    /// Unmounts a root left mounted at `<bundle>/rootfs`, if any, and removes the bundle.
    pub fn remove(bundle: &Path) {
        let rootfs = bundle.join("rootfs");
        let _ = rustix::mount::unmount(&rootfs, rustix::mount::UnmountFlags::DETACH);
        if let Err(e) = std::fs::remove_dir_all(bundle)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove bundle {}: {e}", bundle.display());
        }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        Overlay::remove(&self.bundle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            match content {
                Some(text) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(text.len() as u64);
                    header.set_mode(0o644);
                    header.set_cksum();
                    builder
                        .append_data(&mut header, path, text.as_bytes())
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                None => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    header.set_mode(0o755);
                    header.set_cksum();
                    builder
                        .append_data(&mut header, path, std::io::empty())
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
        builder.into_inner().unwrap_or_else(|e| panic!("{e}"))
    }

    fn read(path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    #[test]
    fn layers_stack_and_whiteouts_hide_what_lies_below() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = tar_of(&[
            ("etc/", None),
            ("etc/motd", Some("base")),
            ("etc/gone", Some("x")),
            ("var/", None),
            ("var/cache/", None),
            ("var/cache/a", Some("a")),
            ("bin/", None),
            ("bin/tool", Some("v1")),
        ]);
        apply_tar(&base[..], root.path()).unwrap_or_else(|e| panic!("{e}"));
        let top = tar_of(&[
            ("etc/.wh.gone", Some("")),
            ("var/cache/.wh..wh..opq", Some("")),
            ("var/cache/b", Some("b")),
            ("bin/tool", Some("v2")),
        ]);
        // The same layer gzip-compressed, as registries ship it.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &top).unwrap_or_else(|e| panic!("{e}"));
        let gz = gz.finish().unwrap_or_else(|e| panic!("{e}"));
        apply_tar(flate2::read::GzDecoder::new(&gz[..]), root.path())
            .unwrap_or_else(|e| panic!("{e}"));
        let at = |p: &str| root.path().join(p);
        assert_eq!(read(&at("etc/motd")).as_deref(), Some("base"));
        assert!(!at("etc/gone").exists(), "a whiteout removes the file");
        assert!(
            !at("var/cache/a").exists(),
            "an opaque directory hides the lower layer"
        );
        assert_eq!(read(&at("var/cache/b")).as_deref(), Some("b"));
        assert_eq!(read(&at("bin/tool")).as_deref(), Some("v2"));
        assert!(
            !at("etc/.wh.gone").exists(),
            "whiteouts are not files of the root"
        );
    }

    #[test]
    fn an_entry_that_leaves_the_root_is_refused() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // tar::Builder refuses `..` itself, so write the name into the header by hand.
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(1);
        header.set_mode(0o644);
        let name = b"../escaped";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append(&header, &b"x"[..])
            .unwrap_or_else(|e| panic!("{e}"));
        let bytes = builder.into_inner().unwrap_or_else(|e| panic!("{e}"));
        let inner = root.path().join("inner");
        std::fs::create_dir(&inner).unwrap_or_else(|e| panic!("{e}"));
        let error = apply_tar(&bytes[..], &inner).err();
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("leaves the root")),
            "{error:?}"
        );
        assert!(!root.path().join("escaped").exists());
    }
}
