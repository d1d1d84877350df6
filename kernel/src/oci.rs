//! OCI image layout directories (as `oras`, `wkg` or `skopeo` write them): `index.json`
//! names manifests (by the `org.opencontainers.image.ref.name` annotation), a manifest names
//! its config and layers, and every blob's digest is checked against its descriptor before
//! its bytes are used. Plugin modules are read from them (a manifest's single WebAssembly
//! layer), and the node agent keeps its images in one.

use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

/// Media types a WebAssembly layer is published under.
pub const WASM_LAYER_TYPES: &[&str] = &[
    "application/wasm",
    "application/vnd.wasm.content.layer.v1+wasm",
    "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm",
];

/// The annotation that names a manifest in an index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Reads the module of the manifest tagged `tag` (or the only manifest) in `layout`.
pub fn read_module(layout: &Path, tag: Option<&str>) -> Result<Vec<u8>, String> {
    let manifest = read_manifest(layout, &pick_manifest(layout, tag)?)?;
    blob(layout, &wasm_layer(&manifest)?)
}

/// The descriptor of the manifest tagged `tag` in `layout`'s index (or of its only
/// manifest when `tag` is `None`).
pub fn pick_manifest(layout: &Path, tag: Option<&str>) -> Result<Descriptor, String> {
    let index = read_index(layout)?;
    let manifests = index.manifests();
    let chosen: Vec<&Descriptor> = match tag {
        Some(tag) => manifests
            .iter()
            .filter(|d| ref_name(d) == Some(tag))
            .collect(),
        None => manifests.iter().collect(),
    };
    match chosen.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "{}: no manifest {}",
            layout.display(),
            tag.map_or("at all".into(), |t| format!("tagged {t:?}"))
        )),
        _ => Err(format!(
            "{}: {} manifests; name one with :TAG",
            layout.display(),
            chosen.len()
        )),
    }
}

/// `layout`'s `index.json`.
pub fn read_index(layout: &Path) -> Result<ImageIndex, String> {
    ImageIndex::from_file(layout.join("index.json"))
        .map_err(|e| format!("{}: not an OCI image layout: {e}", layout.display()))
}

/// The name a manifest descriptor carries, if any.
pub fn ref_name(descriptor: &Descriptor) -> Option<&str> {
    descriptor
        .annotations()
        .as_ref()
        .and_then(|a| a.get(REF_NAME))
        .map(String::as_str)
}

/// The manifest `descriptor` points at, checked.
pub fn read_manifest(layout: &Path, descriptor: &Descriptor) -> Result<ImageManifest, String> {
    ImageManifest::from_reader(blob(layout, descriptor)?.as_slice())
        .map_err(|e| format!("manifest: {e}"))
}

/// The one WebAssembly layer of `manifest`.
pub fn wasm_layer(manifest: &ImageManifest) -> Result<Descriptor, String> {
    let layers: Vec<&Descriptor> = manifest
        .layers()
        .iter()
        .filter(|l| WASM_LAYER_TYPES.contains(&l.media_type().to_string().as_str()))
        .collect();
    match layers.as_slice() {
        [layer] => Ok((*layer).clone()),
        _ => Err(format!(
            "the manifest has {} WebAssembly layers ({}); expected one",
            layers.len(),
            WASM_LAYER_TYPES.join(", ")
        )),
    }
}

/// The config of a WebAssembly image: empty.
pub const WASM_CONFIG: &[u8] = b"{}";

/// The manifest of a WebAssembly image as the wasm OCI artifact layout has it: the empty
/// wasm config ([`WASM_CONFIG`], whose digest is `config`) and one `application/wasm`
/// layer (`layer`, `layer_size` bytes); JSON text.
pub fn wasm_manifest(config: &str, layer: &str, layer_size: usize) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json",
                   "digest": config, "size": WASM_CONFIG.len()},
        "layers": [{"mediaType": "application/wasm", "digest": layer, "size": layer_size}],
    })
    .to_string()
}

/// Where `descriptor`'s blob lives in `layout`.
pub fn blob_path(layout: &Path, descriptor: &Descriptor) -> Result<std::path::PathBuf, String> {
    let digest = descriptor.digest();
    if digest.algorithm().to_string() != "sha256" {
        return Err(format!("blob {digest}: only sha256 digests are supported"));
    }
    Ok(layout.join("blobs/sha256").join(digest.digest()))
}

/// A blob's bytes, checked against its descriptor's digest and size.
pub fn blob(layout: &Path, descriptor: &Descriptor) -> Result<Vec<u8>, String> {
    let digest = descriptor.digest();
    let path = blob_path(layout, descriptor)?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let actual = crate::plugin::digest(&bytes);
    if actual != digest.to_string() || bytes.len() as u64 != descriptor.size() {
        return Err(format!(
            "blob {digest} does not match its descriptor ({actual}, {} bytes)",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Writing layouts, for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::plugin::digest;
    use serde_json::json;

    /// Writes `bytes` as a blob of the layout at `dir`; its digest.
    pub(crate) fn write_blob(dir: &Path, bytes: &[u8]) -> String {
        let digest = digest(bytes);
        let hex = digest.trim_start_matches("sha256:");
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(blobs.join(hex), bytes).unwrap_or_else(|e| panic!("{e}"));
        digest.clone()
    }

    /// A layout holding one WebAssembly image, `module`, tagged `tag`.
    pub(crate) fn wasm_layout(module: &[u8], tag: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let layer = write_blob(dir.path(), module);
        let config = write_blob(dir.path(), WASM_CONFIG);
        let manifest = wasm_manifest(&config, &layer, module.len());
        let manifest_digest = write_blob(dir.path(), manifest.as_bytes());
        let index = json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
                           "annotations": {REF_NAME: tag}}],
        });
        std::fs::write(dir.path().join("index.json"), index.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::testing::wasm_layout;
    use super::*;
    use crate::plugin::digest;

    #[test]
    fn reads_the_wasm_layer_by_tag_or_alone() {
        let dir = wasm_layout(b"\0asm module", "v1");
        assert_eq!(
            read_module(dir.path(), Some("v1")),
            Ok(b"\0asm module".to_vec())
        );
        assert_eq!(read_module(dir.path(), None), Ok(b"\0asm module".to_vec()));
        let missing = read_module(dir.path(), Some("v2"));
        assert!(
            matches!(&missing, Err(m) if m.contains("no manifest tagged \"v2\"")),
            "{missing:?}"
        );
    }

    #[test]
    fn a_blob_that_does_not_match_its_digest_is_refused() {
        let dir = wasm_layout(b"\0asm module", "v1");
        let blobs = dir.path().join("blobs/sha256");
        let layer = digest(b"\0asm module");
        std::fs::write(
            blobs.join(layer.trim_start_matches("sha256:")),
            b"\0asm evil!!",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let result = read_module(dir.path(), Some("v1"));
        assert!(
            matches!(&result, Err(m) if m.contains("does not match its descriptor")),
            "{result:?}"
        );
    }
}
