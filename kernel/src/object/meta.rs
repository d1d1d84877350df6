//! Object metadata: name rules, `generateName`, and typed access to the
//! `metadata` of an object held as JSON.

use rand::Rng;
use serde_json::{Map, Value};

use super::resource::NameRule;

/// Checks a name against a rule; the error is the sentence Kubernetes prints.
pub fn validate_name(name: &str, rule: NameRule) -> Result<(), String> {
    let (max, allow_dot, what) = match rule {
        NameRule::Subdomain => (253, true, "a lowercase RFC 1123 subdomain"),
        NameRule::Label => (63, false, "a lowercase RFC 1123 label"),
    };
    let bad = || {
        let chars = if allow_dot {
            "lower case alphanumeric characters, '-' or '.'"
        } else {
            "lower case alphanumeric characters or '-'"
        };
        format!(
            "invalid value {name:?}: {what} must consist of {chars}, and must start and end with an alphanumeric character"
        )
    };
    if name.is_empty() {
        return Err("name must not be empty".to_string());
    }
    if name.len() > max {
        return Err(format!(
            "invalid value {name:?}: must be no more than {max} characters"
        ));
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = name.as_bytes();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(bad());
    }
    if allow_dot {
        // Each dot-separated part is itself a label.
        for part in name.split('.') {
            let p = part.as_bytes();
            if p.is_empty() || !alnum(p[0]) || !alnum(p[p.len() - 1]) {
                return Err(bad());
            }
        }
    }
    if bytes
        .iter()
        .any(|&c| !(alnum(c) || c == b'-' || (allow_dot && c == b'.')))
    {
        return Err(bad());
    }
    Ok(())
}

/// `generateName` plus five random characters, as Kubernetes does.
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let max_prefix = 63 - 5;
    let prefix = if prefix.len() > max_prefix {
        &prefix[..max_prefix]
    } else {
        prefix
    };
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// Now, as Kubernetes writes timestamps (RFC 3339, seconds, `Z`).
pub fn now_rfc3339() -> String {
    rfc3339_in(0)
}

/// The time `seconds` from now, as Kubernetes writes timestamps.
pub fn rfc3339_in(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The grace period `obj` was marked for deletion with (`deletionGracePeriodSeconds`).
pub fn deletion_grace_seconds(obj: &Value) -> Option<i64> {
    obj.pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
}

/// Whether `obj`, marked for deletion, is still held: by its finalizers, or by a grace
/// period its node's agent uses before removing it.
pub fn held_after_deletion(obj: &Value) -> bool {
    marked_for_deletion(obj)
        && (deletion_grace_seconds(obj).is_some_and(|grace| grace > 0)
            || !finalizers(obj).is_empty())
}

/// Whether `obj` is marked for deletion (carries a `metadata.deletionTimestamp`).
pub fn marked_for_deletion(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// A string at `metadata.<field>`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// `metadata` as a mutable map, created when absent or not an object.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = match obj {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    };
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    match meta {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

/// The object's labels (empty when absent).
pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.get("labels")?.as_object()
}

/// The object's finalizers.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The revision encoded in `metadata.resourceVersion`, if it is one.
pub fn resource_version(obj: &Value) -> Option<u64> {
    meta_str(obj, "resourceVersion")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "web-1", "a.b.c", "x0"] {
            assert!(validate_name(ok, NameRule::Subdomain).is_ok(), "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a_b", "a..b", ".a"] {
            assert!(validate_name(bad, NameRule::Subdomain).is_err(), "{bad}");
        }
        assert!(validate_name("a.b", NameRule::Label).is_err());
        assert!(validate_name(&"a".repeat(64), NameRule::Label).is_err());
        assert!(validate_name(&"a".repeat(253), NameRule::Subdomain).is_ok());
    }

    #[test]
    fn generated_names_are_valid() {
        let n = generate_name("web-");
        assert!(n.starts_with("web-") && n.len() == 9);
        assert!(validate_name(&n, NameRule::Subdomain).is_ok());
    }
}
