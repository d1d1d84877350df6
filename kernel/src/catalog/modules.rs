//! Plugin modules as content-addressed `PluginModule` objects in the replicated store.
//!
//! A module is named for its digest (`sha256-<hex>`). One that fits in [`CHUNK_BYTES`]
//! carries its bytes in `spec.data` (base64); a larger one lists its parts in `spec.parts`,
//! each a `PluginModule` of its own named for the part's digest. Readers check every
//! digest, so a module read back is exactly the module pushed. Pure functions over JSON:
//! the server reads through the store, `keel plugin push` writes over HTTP.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::object::resource::KEEL_GROUP;
use crate::plugin::digest;

/// Bytes per object: 1 MiB (about 1.4 MiB as base64), well under the API's body cap.
pub const CHUNK_BYTES: usize = 1 << 20;

/// The object name of a digest: `sha256:ab..` becomes `sha256-ab..`.
pub fn object_name(digest: &str) -> String {
    digest.replace(':', "-")
}

/// The `PluginModule` objects that store `bytes`: the parts first, then the module itself.
pub fn objects_for(bytes: &[u8]) -> (String, Vec<Value>) {
    let module_digest = digest(bytes);
    let object = |digest: &str, spec: Value| {
        json!({
            "apiVersion": format!("{KEEL_GROUP}/v1alpha1"),
            "kind": "PluginModule",
            "metadata": {"name": object_name(digest)},
            "spec": spec,
        })
    };
    if bytes.len() <= CHUNK_BYTES {
        let spec =
            json!({"digest": module_digest, "size": bytes.len(), "data": STANDARD.encode(bytes)});
        return (module_digest.clone(), vec![object(&module_digest, spec)]);
    }
    let mut objects = Vec::new();
    let mut parts = Vec::new();
    for chunk in bytes.chunks(CHUNK_BYTES) {
        let part = digest(chunk);
        objects.push(object(
            &part,
            json!({"digest": part, "size": chunk.len(), "part": true, "data": STANDARD.encode(chunk)}),
        ));
        parts.push(object_name(&part));
    }
    objects.push(object(
        &module_digest,
        json!({"digest": module_digest, "size": bytes.len(), "parts": parts}),
    ));
    (module_digest, objects)
}

/// The digest of a whole module stored in `object` (none for a part of one).
pub fn module_digest(object: &Value) -> Option<&str> {
    if object.pointer("/spec/part").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    object.pointer("/spec/digest").and_then(Value::as_str)
}

/// Reassembles the module `wanted` from objects fetched by name with `get`, checking
/// every digest.
pub fn assemble(
    wanted: &str,
    mut get: impl FnMut(&str) -> Option<Value>,
) -> Result<Vec<u8>, String> {
    let name = object_name(wanted);
    let module = get(&name).ok_or_else(|| format!("no PluginModule {name}"))?;
    let bytes = match module.pointer("/spec/parts").and_then(Value::as_array) {
        None => data(&module)?,
        Some(parts) => {
            let mut bytes = Vec::new();
            for part in parts {
                let part = part.as_str().ok_or("a part is not a name")?;
                let object = get(part)
                    .ok_or_else(|| format!("no PluginModule {part} (a part of {name})"))?;
                let chunk = data(&object)?;
                if object_name(&digest(&chunk)) != part {
                    return Err(format!("part {part} does not match its digest"));
                }
                bytes.extend_from_slice(&chunk);
            }
            bytes
        }
    };
    let actual = digest(&bytes);
    if actual != wanted {
        return Err(format!("PluginModule {name} holds {actual}, not {wanted}"));
    }
    Ok(bytes)
}

fn data(object: &Value) -> Result<Vec<u8>, String> {
    let text = object
        .pointer("/spec/data")
        .and_then(Value::as_str)
        .ok_or("a PluginModule has neither data nor parts")?;
    STANDARD
        .decode(text)
        .map_err(|e| format!("PluginModule data is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn by_name(objects: &[Value]) -> HashMap<String, Value> {
        let name = |o: &Value| {
            o.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        objects.iter().map(|o| (name(o), o.clone())).collect()
    }

    fn round_trip(bytes: &[u8]) -> (usize, Result<Vec<u8>, String>) {
        let (digest, objects) = objects_for(bytes);
        let by_name = by_name(&objects);
        (
            objects.len(),
            assemble(&digest, |n| by_name.get(n).cloned()),
        )
    }

    #[test]
    fn small_and_chunked_modules_round_trip() {
        let small = b"\0asm small".to_vec();
        assert_eq!(round_trip(&small), (1, Ok(small)));
        let large: Vec<u8> = (0..CHUNK_BYTES * 2 + 5).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            round_trip(&large),
            (4, Ok(large.clone())),
            "three parts and the module"
        );
        let (digest, objects) = objects_for(&large);
        let wholes: Vec<Option<&str>> = objects.iter().map(module_digest).collect();
        assert_eq!(
            wholes,
            [None, None, None, Some(digest.as_str())],
            "parts are not modules"
        );
    }

    #[test]
    fn tampered_or_missing_parts_are_refused() {
        let large: Vec<u8> = (0..CHUNK_BYTES + 1).map(|i| (i % 13) as u8).collect();
        let (digest, objects) = objects_for(&large);
        let mut by_name = by_name(&objects);
        let first_part = objects[0]
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(part) = by_name.get_mut(&first_part) {
            part["spec"]["data"] = json!(STANDARD.encode(b"tampered"));
        }
        let tampered = assemble(&digest, |n| by_name.get(n).cloned());
        assert!(
            matches!(&tampered, Err(m) if m.contains("does not match")),
            "{tampered:?}"
        );
        by_name.remove(&first_part);
        let missing = assemble(&digest, |n| by_name.get(n).cloned());
        assert!(
            matches!(&missing, Err(m) if m.contains("no PluginModule")),
            "{missing:?}"
        );
    }
}
