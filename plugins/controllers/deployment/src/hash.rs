//! The `pod-template-hash`: a stable name for a pod template, as Kubernetes'
//! `controller.ComputeHash` makes it: FNV-1a (32 bits) over the template (here its
//! canonical JSON: object keys sorted, no whitespace) followed by `status.collisionCount`
//! as 8 little-endian bytes when set, the decimal sum encoded with `rand.SafeEncodeString`
//! (each byte mapped into an alphabet without vowels or look-alike characters).

use serde_json::Value;

/// The label every ReplicaSet and pod of a Deployment carries with its template's hash
/// (`apps.DefaultDeploymentUniqueLabelKey`).
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// `rand.SafeEncodeString`'s alphabet.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The hash of `template` with `collision_count`.
pub fn pod_template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut text = String::new();
    canonical_json(template, &mut text);
    let mut bytes = text.into_bytes();
    if let Some(count) = collision_count {
        // Kubernetes writes the int32 as a uint32 into an 8-byte buffer.
        let mut buffer = [0_u8; 8];
        let count = u32::try_from(count.rem_euclid(1 << 32)).unwrap_or_default();
        buffer[..4].copy_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&buffer);
    }
    safe_encode(&fnv1a_32(&bytes).to_string())
}

/// FNV-1a, 32 bits.
pub fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// `rand.SafeEncodeString`: each byte of `text` as `ALPHANUMS[byte % 27]`.
pub fn safe_encode(text: &str) -> String {
    text.bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// Writes `value` as JSON with object keys in sorted order whatever the map type keeps.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(key) {
                    canonical_json(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference (draft-eastlake-fnv): "" and "a".
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn safe_encoding_maps_digits_into_the_alphabet() {
        // '0' is byte 48: 48 % 27 = 21 -> '4'; '9' is 57: 57 % 27 = 3 -> 'f'.
        assert_eq!(safe_encode("09"), "4f");
        let hash = pod_template_hash(&json!({"metadata": {"labels": {"app": "web"}}}), None);
        assert!(!hash.is_empty() && hash.len() <= 10);
        assert!(hash.bytes().all(|b| ALPHANUMS.contains(&b)), "{hash}");
    }

    #[test]
    fn the_hash_is_stable_and_ignores_key_order() {
        let a = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}, "metadata": {}});
        let b: Value = serde_json::from_str(
            r#"{"metadata": {}, "spec": {"containers": [{"image": "nginx", "name": "c"}]}}"#,
        )
        .unwrap_or_default();
        assert_eq!(pod_template_hash(&a, None), pod_template_hash(&b, None));
        let mut text = String::new();
        canonical_json(&b, &mut text);
        assert_eq!(
            text,
            r#"{"metadata":{},"spec":{"containers":[{"image":"nginx","name":"c"}]}}"#
        );
    }

    /// ComputeHash: a collision count gives a different hash, so a colliding name moves.
    #[test]
    fn the_collision_count_changes_the_hash() {
        let template = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let plain = pod_template_hash(&template, None);
        assert_ne!(plain, pod_template_hash(&template, Some(1)));
        assert_ne!(
            pod_template_hash(&template, Some(1)),
            pod_template_hash(&template, Some(2))
        );
        assert_ne!(plain, pod_template_hash(&json!({"spec": {}}), None));
    }
}
