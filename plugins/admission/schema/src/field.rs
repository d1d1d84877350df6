//! Field errors as Kubernetes writes them (`spec.containers[0].image: Required value`), the
//! paths they name, and their aggregate (`[a, b]`): the one place that formats what the
//! plugin reports.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

/// A path to a field: `spec.containers[0].resources.requests[cpu]`. Each step borrows the
/// path above it, so descending allocates nothing; the text is written only for an error.
#[derive(Clone, Copy, Debug)]
pub enum Path<'a> {
    /// A top-level field.
    Root(&'a str),
    /// A field under a path.
    Child(&'a Path<'a>, &'a str),
    /// An element of a list.
    Index(&'a Path<'a>, usize),
    /// An entry of a map.
    Key(&'a Path<'a>, &'a str),
}

impl<'a> Path<'a> {
    /// A path starting at the top-level field `root`.
    pub fn new(root: &'a str) -> Path<'a> {
        Path::Root(root)
    }

    /// The field `name` under this one.
    pub fn child<'b>(&'b self, name: &'b str) -> Path<'b> {
        Path::Child(self, name)
    }

    /// Element `index` of this list.
    pub fn index(&self, index: usize) -> Path<'_> {
        Path::Index(self, index)
    }

    /// Entry `key` of this map.
    pub fn key<'b>(&'b self, key: &'b str) -> Path<'b> {
        Path::Key(self, key)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Child(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
            Path::Key(parent, key) => write!(f, "{parent}[{key}]"),
        }
    }
}

/// A rejected value, printed as Go's field errors print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadValue {
    /// A string, quoted: `"web"`.
    Str(String),
    /// A number, bare: `70000`.
    Int(i64),
    /// Text printed as it is (a Go `%#v` rendering such as `map[string]string{}`).
    Raw(String),
}

impl BadValue {
    /// A JSON value as Kubernetes would print the field it decodes to.
    pub fn json(value: &Value) -> BadValue {
        match value {
            Value::String(s) => BadValue::Str(s.clone()),
            Value::Number(n) => n
                .as_i64()
                .map_or_else(|| BadValue::Raw(n.to_string()), BadValue::Int),
            Value::Null => BadValue::Raw("null".into()),
            other => BadValue::Raw(other.to_string()),
        }
    }
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Str(s) => f.write_str(&go_quote(s)),
            BadValue::Int(n) => write!(f, "{n}"),
            BadValue::Raw(s) => f.write_str(s),
        }
    }
}

/// What is wrong with a field: Kubernetes' `field.ErrorType`, with the value where it prints one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `Required value`.
    Required,
    /// `Forbidden`.
    Forbidden,
    /// `Invalid value: <value>`.
    Invalid(BadValue),
    /// `Duplicate value: <value>`.
    Duplicate(BadValue),
    /// `Not found: <value>`.
    NotFound(BadValue),
    /// `Unsupported value: <value>`.
    NotSupported(BadValue),
}

/// One field error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as written.
    pub path: String,
    /// What is wrong with it.
    pub kind: Kind,
    /// Why, after the value; may be empty.
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        match &self.kind {
            Kind::Required => f.write_str("Required value")?,
            Kind::Forbidden => f.write_str("Forbidden")?,
            Kind::Invalid(v) => write!(f, "Invalid value: {v}")?,
            Kind::Duplicate(v) => write!(f, "Duplicate value: {v}")?,
            Kind::NotFound(v) => write!(f, "Not found: {v}")?,
            Kind::NotSupported(v) => write!(f, "Unsupported value: {v}")?,
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// `path: Required value[: detail]`.
pub fn required(path: Path<'_>, detail: &str) -> FieldError {
    FieldError {
        path: path.to_string(),
        kind: Kind::Required,
        detail: detail.into(),
    }
}

/// `path: Forbidden: detail`.
pub fn forbidden(path: Path<'_>, detail: &str) -> FieldError {
    FieldError {
        path: path.to_string(),
        kind: Kind::Forbidden,
        detail: detail.into(),
    }
}

/// `path: Invalid value: value: detail`.
pub fn invalid(path: Path<'_>, value: BadValue, detail: &str) -> FieldError {
    FieldError {
        path: path.to_string(),
        kind: Kind::Invalid(value),
        detail: detail.into(),
    }
}

/// `path: Duplicate value: value`.
pub fn duplicate(path: Path<'_>, value: BadValue) -> FieldError {
    FieldError {
        path: path.to_string(),
        kind: Kind::Duplicate(value),
        detail: String::new(),
    }
}

/// `path: Not found: value`.
pub fn not_found(path: Path<'_>, value: BadValue) -> FieldError {
    FieldError {
        path: path.to_string(),
        kind: Kind::NotFound(value),
        detail: String::new(),
    }
}

/// `path: Unsupported value: value: supported values: "a", "b"`.
pub fn not_supported(path: Path<'_>, value: BadValue, supported: &[&str]) -> FieldError {
    let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
    FieldError {
        path: path.to_string(),
        kind: Kind::NotSupported(value),
        detail: format!("supported values: {}", quoted.join(", ")),
    }
}

/// The message for a list of errors, as Kubernetes' aggregate prints it: the one distinct
/// message alone, several in brackets; `None` when there are none.
pub fn aggregate(errors: &[FieldError]) -> Option<String> {
    let mut seen = BTreeSet::new();
    let mut messages = Vec::new();
    for error in errors {
        let message = error.to_string();
        if seen.insert(message.clone()) {
            messages.push(message);
        }
    }
    match messages.len() {
        0 => None,
        1 => messages.pop(),
        _ => Some(format!("[{}]", messages.join(", "))),
    }
}

/// `s` quoted as Go's `%q` quotes it.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static SPEC: Path<'static> = Path::Root("spec");
    static CONTAINERS: Path<'static> = Path::Child(&SPEC, "containers");

    /// `spec.containers[0]`.
    fn path() -> Path<'static> {
        Path::Index(&CONTAINERS, 0)
    }

    #[test]
    fn paths_print_children_indexes_and_keys() {
        let container = path();
        let resources = container.child("resources");
        let requests = resources.child("requests");
        assert_eq!(
            requests.key("cpu").to_string(),
            "spec.containers[0].resources.requests[cpu]"
        );
    }

    #[test]
    fn each_error_type_prints_as_kubernetes_does() {
        assert_eq!(
            required(path().child("image"), "").to_string(),
            "spec.containers[0].image: Required value"
        );
        assert_eq!(
            invalid(
                path().child("ports").index(0).child("containerPort"),
                BadValue::Int(70000),
                "must be between 1 and 65535, inclusive"
            )
            .to_string(),
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            duplicate(path().child("name"), BadValue::Str("web".into())).to_string(),
            "spec.containers[0].name: Duplicate value: \"web\""
        );
        assert_eq!(
            not_found(path().child("name"), BadValue::Str("data".into())).to_string(),
            "spec.containers[0].name: Not found: \"data\""
        );
        assert_eq!(
            not_supported(
                Path::new("spec").child("restartPolicy"),
                BadValue::Str("Sometimes".into()),
                &["Always", "OnFailure", "Never"]
            )
            .to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
        assert_eq!(
            forbidden(Path::new("spec"), "nope").to_string(),
            "spec: Forbidden: nope"
        );
    }

    #[test]
    fn aggregate_is_bare_for_one_bracketed_for_many_and_dedups() {
        let a = required(Path::new("a"), "");
        let b = required(Path::new("b"), "");
        assert_eq!(aggregate(&[]), None);
        assert_eq!(
            aggregate(std::slice::from_ref(&a)).as_deref(),
            Some("a: Required value")
        );
        assert_eq!(
            aggregate(&[a.clone(), b, a]).as_deref(),
            Some("[a: Required value, b: Required value]")
        );
    }

    #[test]
    fn json_values_print_like_go() {
        assert_eq!(BadValue::json(&json!("x")).to_string(), "\"x\"");
        assert_eq!(BadValue::json(&json!(-1)).to_string(), "-1");
        assert_eq!(BadValue::json(&json!(null)).to_string(), "null");
        assert_eq!(BadValue::json(&json!(true)).to_string(), "true");
        assert_eq!(go_quote("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\x01\"");
    }
}
