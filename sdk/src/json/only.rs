//! Parsing only the parts of a JSON document a plugin reads.
//!
//! A plugin that looks at a few fields of a pod still pays, with `serde_json::from_str`, for
//! a `Value` of the whole object: every label, image, resource and env var allocated and
//! freed on each call. [`parse_only`] reads the same text into a `Value` that holds only the
//! members [`Fields`] names, skipping the rest unallocated, so code written against `Value`
//! keeps working unchanged on the smaller tree. The skipped parts are still checked to be
//! JSON: a document `parse_only` accepts is one `from_str` accepts, and what it keeps is
//! exactly what `from_str` would have put there.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Which parts of a JSON value to keep.
#[derive(Debug)]
pub enum Fields {
    /// All of it.
    All,
    /// Of an object, only these members, each with what to keep of it. Of a list, this for
    /// each element; a string, number, boolean or null is kept as it is.
    Only(&'static [(&'static str, Fields)]),
}

/// `text` parsed as JSON, keeping only `fields` of it.
pub fn parse_only(text: &str, fields: &Fields) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = fields.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

impl<'de> DeserializeSeed<'de> for &Fields {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self {
            Fields::All => serde::Deserialize::deserialize(deserializer),
            Fields::Only(members) => deserializer.deserialize_any(Pruned(members)),
        }
    }
}

/// Reads one value keeping only `members` of objects in it.
struct Pruned(&'static [(&'static str, Fields)]);

impl<'de> Visitor<'de> for Pruned {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let each = Fields::Only(self.0);
        while let Some(element) = seq.next_element_seed(&each)? {
            list.push(element);
        }
        Ok(Value::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(member) = map.next_key_seed(Member(self.0))? {
            match member {
                Some((name, fields)) => {
                    let value = map.next_value_seed(fields)?;
                    kept.insert(name.to_string(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }
}

/// Reads an object's key: the member of `0` it names, if any, without allocating it.
struct Member(&'static [(&'static str, Fields)]);

impl Member {
    fn find(&self, key: &str) -> Option<(&'static str, &'static Fields)> {
        self.0
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(name, fields)| (*name, fields))
    }
}

impl<'de> DeserializeSeed<'de> for Member {
    type Value = Option<(&'static str, &'static Fields)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Member {
    type Value = Option<(&'static str, &'static Fields)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.find(key))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CONTAINER: Fields = Fields::Only(&[("name", Fields::All), ("ports", Fields::All)]);
    static POD: Fields = Fields::Only(&[
        ("metadata", Fields::Only(&[("annotations", Fields::All)])),
        (
            "spec",
            Fields::Only(&[("containers", CONTAINER), ("hostNetwork", Fields::All)]),
        ),
    ]);

    fn parsed(text: &str, fields: &Fields) -> Value {
        match parse_only(text, fields) {
            Ok(value) => value,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    #[test]
    fn keeps_what_is_named_and_drops_the_rest() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "labels": {"a": "b"}, "annotations": {"x": "y"}},
            "spec": {"hostNetwork": true, "containers": [
                {"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 8080}],
                 "resources": {"requests": {"cpu": "1"}}},
                {"name": "d\"\u{e9}", "env": [{"name": "A", "value": "1"}]}
            ]},
            "status": {"phase": "Pending"}
        });
        assert_eq!(
            parsed(&pod.to_string(), &POD),
            json!({
                "metadata": {"annotations": {"x": "y"}},
                "spec": {"hostNetwork": true, "containers": [
                    {"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                    {"name": "d\"\u{e9}"}
                ]}
            })
        );
        assert_eq!(
            parsed(&pod.to_string(), &CONTAINER),
            json!({}),
            "a pod has no member named name or ports"
        );
    }

    #[test]
    fn all_keeps_everything_and_scalars_stay_as_they_are() {
        let doc = json!({"a": [1, -2, 2.5, null, true, "s", {"b": []}], "c": u64::MAX});
        assert_eq!(parsed(&doc.to_string(), &Fields::All), doc);
        for scalar in [
            "1",
            "-2",
            "2.5",
            "null",
            "false",
            "\"s\"",
            "18446744073709551615",
        ] {
            assert_eq!(
                parsed(scalar, &POD),
                parsed(scalar, &Fields::All),
                "{scalar}"
            );
        }
        assert_eq!(
            parsed(
                r#"{"spec": [{"hostNetwork": 1, "x": 2}, [{"hostNetwork": 3}], 4]}"#,
                &POD
            ),
            json!({"spec": [{"hostNetwork": 1}, [{"hostNetwork": 3}], 4]}),
            "lists, lists of lists and scalars in place of objects"
        );
    }

    #[test]
    fn a_repeated_key_keeps_the_last_as_from_str_does() {
        let text = r#"{"spec": {"hostNetwork": 1}, "spec": {"hostNetwork": 2, "y": 0}}"#;
        assert_eq!(parsed(text, &POD), json!({"spec": {"hostNetwork": 2}}));
    }

    #[test]
    fn escaped_keys_are_matched_by_what_they_say() {
        let text = r#"{"sp\u0065c": {"host\u004eetwork": true}}"#;
        assert_eq!(parsed(text, &POD), json!({"spec": {"hostNetwork": true}}));
    }

    #[test]
    fn what_from_str_refuses_is_refused_even_where_skipped() {
        for bad in [
            "",
            "{",
            r#"{"status": {"phase": }}"#,
            r#"{"status": [1, 2,]}"#,
            r#"{"kind": "Pod"} x"#,
            r#"{"kind": "\x"}"#,
            r#"{"spec": {"hostNetwork": tru}}"#,
        ] {
            assert!(parse_only(bad, &POD).is_err(), "{bad:?}");
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad:?}");
        }
    }
}
