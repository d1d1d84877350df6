//! Plugin modules from an OCI image layout directory (as `oras`, `wkg` or `skopeo` write
//! them): `index.json` names a manifest (by the `org.opencontainers.image.ref.name` tag, or
//! the only one), whose single WebAssembly layer is the module. Every blob's digest is
//! checked against its descriptor before its bytes are used.

use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

/// Media types a WebAssembly layer is published under.
const WASM_LAYER_TYPES: &[&str] = &[
    "application/wasm",
    "application/vnd.wasm.content.layer.v1+wasm",
    "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm",
];

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Reads the module of the manifest tagged `tag` (or the only manifest) in `layout`.
pub fn read_module(layout: &Path, tag: Option<&str>) -> Result<Vec<u8>, String> {
    let index = ImageIndex::from_file(layout.join("index.json"))
        .map_err(|e| format!("{}: not an OCI image layout: {e}", layout.display()))?;
    let manifests = index.manifests();
    let chosen: Vec<&Descriptor> = match tag {
        Some(tag) => manifests
            .iter()
            .filter(|d| {
                d.annotations()
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .is_some_and(|t| t == tag)
            })
            .collect(),
        None => manifests.iter().collect(),
    };
    let manifest = match chosen.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!(
                "{}: no manifest {}",
                layout.display(),
                tag.map_or("at all".into(), |t| format!("tagged {t:?}"))
            ));
        }
        _ => {
            return Err(format!(
                "{}: {} manifests; name one with :TAG",
                layout.display(),
                chosen.len()
            ));
        }
    };
    let manifest = ImageManifest::from_reader(blob(layout, manifest)?.as_slice())
        .map_err(|e| format!("manifest: {e}"))?;
    let layers: Vec<&Descriptor> = manifest
        .layers()
        .iter()
        .filter(|l| WASM_LAYER_TYPES.contains(&l.media_type().to_string().as_str()))
        .collect();
    match layers.as_slice() {
        [layer] => blob(layout, layer),
        _ => Err(format!(
            "the manifest has {} WebAssembly layers ({}); expected one",
            layers.len(),
            WASM_LAYER_TYPES.join(", ")
        )),
    }
}

/// A blob's bytes, checked against its descriptor's digest and size.
fn blob(layout: &Path, descriptor: &Descriptor) -> Result<Vec<u8>, String> {
    let digest = descriptor.digest();
    if digest.algorithm().to_string() != "sha256" {
        return Err(format!("blob {digest}: only sha256 digests are supported"));
    }
    let path = layout.join("blobs/sha256").join(digest.digest());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::digest;
    use serde_json::json;

    fn write_blob(dir: &Path, bytes: &[u8]) -> String {
        let digest = digest(bytes);
        let hex = digest.trim_start_matches("sha256:");
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(blobs.join(hex), bytes).unwrap_or_else(|e| panic!("{e}"));
        digest.clone()
    }

    fn layout(module: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let layer = write_blob(dir.path(), module);
        let config = write_blob(dir.path(), b"{}");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": config, "size": 2},
            "layers": [{"mediaType": "application/wasm", "digest": layer, "size": module.len()}],
        })
        .to_string();
        let manifest_digest = write_blob(dir.path(), manifest.as_bytes());
        let index = json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
                           "annotations": {REF_NAME: "v1"}}],
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

    #[test]
    fn reads_the_wasm_layer_by_tag_or_alone() {
        let dir = layout(b"\0asm module");
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
        let dir = layout(b"\0asm module");
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
