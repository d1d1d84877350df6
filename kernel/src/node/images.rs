//! The node's image store: one OCI image layout directory (`<data-dir>/images`) whose
//! index names every image by its full reference (`docker.io/library/busybox:latest`).
//! `keel image import DIR` copies an image layout's manifests and blobs into it, checking
//! every digest; the runtimes resolve a container's `image` against it. An image that is
//! not there is the runtime's `ErrImagePull`, as a registry that lacks it would be.
//!
//! Blobs are written to a temporary file and renamed, and the index is replaced the same
//! way, so a reader never sees a torn file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::image::{
    Descriptor, ImageConfiguration, ImageIndex, ImageIndexBuilder, ImageManifest,
};

use crate::oci;

/// The annotation containerd and nerdctl name an image with in a layout.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Why an image cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    /// No image by that name in the store.
    #[error("image {0:?} is not in this node's image store (import it with `keel image import`)")]
    NotFound(String),
    /// The image is there but unusable (a bad digest, not the kind the runtime runs).
    #[error("image {image:?}: {message}")]
    Invalid {
        /// The image reference.
        image: String,
        /// What is wrong.
        message: String,
    },
}

/// An image found in the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// The full reference it was found by.
    pub name: String,
    /// The manifest's digest (`sha256:...`), the container's `imageID`.
    pub digest: String,
    /// The manifest.
    pub manifest: ImageManifest,
}

/// The store.
pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    /// The store at `dir`, created empty when absent.
    pub fn open(dir: &Path) -> Result<ImageStore, String> {
        std::fs::create_dir_all(dir.join("blobs/sha256"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            write_atomically(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let store = ImageStore {
            dir: dir.to_path_buf(),
        };
        if !dir.join("index.json").exists() {
            store.write_index(Vec::new())?;
        }
        Ok(store)
    }

    /// Copies the images of the layout at `layout` into the store; each is named by `name`
    /// when given (the layout must then hold one image), else by the name its index gives
    /// it. The names imported.
    pub fn import(&self, layout: &Path, name: Option<&str>) -> Result<Vec<String>, String> {
        let index = oci::read_index(layout)?;
        let manifests = index.manifests();
        if name.is_some() && manifests.len() != 1 {
            return Err(format!(
                "{}: {} images; --name names exactly one",
                layout.display(),
                manifests.len()
            ));
        }
        let mut imported = Vec::new();
        for descriptor in manifests {
            let full = match name.or_else(|| source_name(descriptor)) {
                Some(n) => normalize(n),
                None => {
                    return Err(format!(
                        "{}: an image has no full name in its index; give one with --name",
                        layout.display()
                    ));
                }
            };
            let manifest = oci::read_manifest(layout, descriptor)?;
            for blob in std::iter::once(manifest.config()).chain(manifest.layers()) {
                self.copy_blob(layout, blob)?;
            }
            self.copy_blob(layout, descriptor)?;
            self.name(&full, descriptor)?;
            imported.push(full);
        }
        Ok(imported)
    }

    /// Stores a bare WebAssembly component as an image named `name`
    /// ([`oci::wasm_manifest`]); its full name.
    pub fn import_wasm(&self, module: &[u8], name: &str) -> Result<String, String> {
        let full = normalize(name);
        let layer = self.put_blob(module)?;
        let config = self.put_blob(oci::WASM_CONFIG)?;
        let manifest = oci::wasm_manifest(&config, &layer, module.len());
        let digest = self.put_blob(manifest.as_bytes())?;
        let descriptor: Descriptor = serde_json::from_value(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": manifest.len(),
        }))
        .map_err(|e| format!("manifest descriptor: {e}"))?;
        self.name(&full, &descriptor)?;
        Ok(full)
    }

    /// Writes `bytes` as a blob; its digest.
    fn put_blob(&self, bytes: &[u8]) -> Result<String, String> {
        let digest = crate::plugin::digest(bytes);
        let path = self
            .dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        if !path.exists() {
            write_atomically(&path, bytes)?;
        }
        Ok(digest)
    }

    /// The image `reference` names.
    pub fn resolve(&self, reference: &str) -> Result<Image, ImageError> {
        let wanted = normalize(reference);
        let invalid = |message: String| ImageError::Invalid {
            image: reference.to_string(),
            message,
        };
        let index = oci::read_index(&self.dir).map_err(invalid)?;
        let (by_name, by_digest) = match wanted.split_once('@') {
            Some((_, digest)) => (None, Some(digest.to_string())),
            None => (Some(wanted.clone()), None),
        };
        let descriptor = index
            .manifests()
            .iter()
            .find(|d| match (&by_name, &by_digest) {
                (Some(name), _) => oci::ref_name(d) == Some(name.as_str()),
                (None, Some(digest)) => d.digest().to_string() == *digest,
                (None, None) => false,
            })
            .ok_or_else(|| ImageError::NotFound(reference.to_string()))?;
        let manifest = oci::read_manifest(&self.dir, descriptor).map_err(invalid)?;
        Ok(Image {
            name: wanted,
            digest: descriptor.digest().to_string(),
            manifest,
        })
    }

    /// The WebAssembly component of `image`: its layer's digest and bytes (checked).
    pub fn wasm_module(&self, image: &Image) -> Result<(String, Vec<u8>), ImageError> {
        let invalid = |message: String| ImageError::Invalid {
            image: image.name.clone(),
            message,
        };
        let layer = oci::wasm_layer(&image.manifest).map_err(invalid)?;
        let bytes = oci::blob(&self.dir, &layer).map_err(invalid)?;
        Ok((layer.digest().to_string(), bytes))
    }

    /// The image's configuration (entrypoint, command, environment, working directory).
    pub fn config(&self, image: &Image) -> Result<ImageConfiguration, ImageError> {
        let invalid = |message: String| ImageError::Invalid {
            image: image.name.clone(),
            message,
        };
        let bytes = oci::blob(&self.dir, image.manifest.config()).map_err(invalid)?;
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("image config: {e}")))
    }

    /// A layer's bytes (checked against its descriptor).
    pub fn layer(&self, image: &Image, layer: &Descriptor) -> Result<Vec<u8>, ImageError> {
        oci::blob(&self.dir, layer).map_err(|message| ImageError::Invalid {
            image: image.name.clone(),
            message,
        })
    }

    /// Every image by name, with its manifest digest.
    pub fn list(&self) -> Result<BTreeMap<String, String>, String> {
        Ok(oci::read_index(&self.dir)?
            .manifests()
            .iter()
            .filter_map(|d| Some((oci::ref_name(d)?.to_string(), d.digest().to_string())))
            .collect())
    }

    fn copy_blob(&self, layout: &Path, descriptor: &Descriptor) -> Result<(), String> {
        let target = oci::blob_path(&self.dir, descriptor)?;
        if target.exists() && oci::blob(&self.dir, descriptor).is_ok() {
            return Ok(());
        }
        let bytes = oci::blob(layout, descriptor)?;
        write_atomically(&target, &bytes)
    }

    /// Points `name` at `descriptor`, replacing what it named before.
    fn name(&self, name: &str, descriptor: &Descriptor) -> Result<(), String> {
        let mut manifests: Vec<Descriptor> = oci::read_index(&self.dir)?
            .manifests()
            .iter()
            .filter(|d| oci::ref_name(d) != Some(name))
            .cloned()
            .collect();
        let mut named = descriptor.clone();
        let mut annotations = named.annotations().clone().unwrap_or_default();
        annotations.insert(oci::REF_NAME.to_string(), name.to_string());
        named.set_annotations(Some(annotations));
        manifests.push(named);
        self.write_index(manifests)
    }

    fn write_index(&self, manifests: Vec<Descriptor>) -> Result<(), String> {
        let index: ImageIndex = ImageIndexBuilder::default()
            .schema_version(2u32)
            .manifests(manifests)
            .build()
            .map_err(|e| format!("index: {e}"))?;
        let text = index.to_string().map_err(|e| format!("index: {e}"))?;
        write_atomically(&self.dir.join("index.json"), text.as_bytes())
    }
}

/// The full name an image layout's index gives a manifest: containerd's annotation, or a
/// `ref.name` that is a whole reference rather than a bare tag.
fn source_name(descriptor: &Descriptor) -> Option<&str> {
    let annotations = descriptor.annotations().as_ref()?;
    annotations
        .get(CONTAINERD_NAME)
        .map(String::as_str)
        .or_else(|| {
            oci::ref_name(descriptor).filter(|name| name.contains('/') || name.contains(':'))
        })
}

/// The full form of an image reference, as container runtimes resolve it: `busybox` is
/// `docker.io/library/busybox:latest`; a reference without a tag or digest gets `:latest`.
pub fn normalize(reference: &str) -> String {
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    let (first, rest) = name.split_once('/').unwrap_or(("", name));
    let is_domain = first.contains('.') || first.contains(':') || first == "localhost";
    let mut full = match (is_domain, first.is_empty()) {
        (true, _) => name.to_string(),
        (false, true) => format!("docker.io/library/{rest}"),
        (false, false) => format!("docker.io/{name}"),
    };
    if let Some(digest) = digest {
        return format!("{full}@{digest}");
    }
    let last = full.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') {
        full.push_str(":latest");
    }
    full
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::testing::wasm_layout;

    #[test]
    fn references_are_normalized_as_runtimes_do() {
        assert_eq!(normalize("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(normalize("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(normalize("me/app"), "docker.io/me/app:latest");
        assert_eq!(normalize("keel.test/app:v1"), "keel.test/app:v1");
        assert_eq!(normalize("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(
            normalize("busybox@sha256:abc"),
            "docker.io/library/busybox@sha256:abc"
        );
    }

    #[test]
    fn an_imported_image_resolves_by_name_and_digest_and_others_are_not_found() {
        let source = wasm_layout(b"\0asm module", "keel.test/app:v1");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = ImageStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let names = store
            .import(source.path(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names, vec!["keel.test/app:v1".to_string()]);

        let image = store
            .resolve("keel.test/app:v1")
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, bytes) = store.wasm_module(&image).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes, b"\0asm module");
        let by_digest = store
            .resolve(&format!("keel.test/app@{}", image.digest))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by_digest.digest, image.digest);

        assert_eq!(
            store.resolve("keel.test/app:v2").map(|i| i.name),
            Err(ImageError::NotFound("keel.test/app:v2".into()))
        );
    }

    #[test]
    fn a_bare_component_is_stored_as_an_image() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = ImageStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let name = store
            .import_wasm(b"\0asm bare", "keel.test/bare")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name, "keel.test/bare:latest");
        let image = store
            .resolve("keel.test/bare")
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, bytes) = store.wasm_module(&image).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes, b"\0asm bare");
    }

    #[test]
    fn a_bare_tag_needs_a_name_and_a_name_replaces_the_old_image() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = ImageStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let first = wasm_layout(b"\0asm one", "latest");
        let refused = store.import(first.path(), None);
        assert!(
            matches!(&refused, Err(m) if m.contains("--name")),
            "{refused:?}"
        );
        store
            .import(first.path(), Some("app"))
            .unwrap_or_else(|e| panic!("{e}"));
        let second = wasm_layout(b"\0asm two", "latest");
        store
            .import(second.path(), Some("app"))
            .unwrap_or_else(|e| panic!("{e}"));
        let listed = store.list().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(listed.len(), 1, "{listed:?}");
        let image = store.resolve("app").unwrap_or_else(|e| panic!("{e}"));
        let (_, bytes) = store.wasm_module(&image).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes, b"\0asm two");
    }
}
