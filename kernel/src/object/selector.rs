//! Label and field selectors, parsed from the query string forms Kubernetes
//! uses (`a=b,c!=d,e in (x,y),f notin (z),g,!h` and `metadata.name=x`), and label
//! selectors from their object form (`matchLabels`, `matchExpressions`).

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<LabelReq>,
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set, found {rest:?}"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn check_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid label key {key:?}"))
    }
}

impl LabelSelector {
    /// Parses the query form.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self { reqs });
        }
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("empty requirement in selector {s:?}"));
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                check_key(key.trim())?;
                LabelReq::NotExists(key.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                check_key(k.trim())?;
                LabelReq::NotEq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                check_key(k.trim())?;
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                check_key(k.trim())?;
                LabelReq::NotIn(k.trim().to_string(), parse_set(rest)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                check_key(k.trim())?;
                LabelReq::In(k.trim().to_string(), parse_set(rest)?)
            } else {
                check_key(part)?;
                LabelReq::Exists(part.to_string())
            };
            reqs.push(req);
        }
        Ok(Self { reqs })
    }

    /// Reads a `metav1.LabelSelector` object (`{"matchLabels": {..}, "matchExpressions":
    /// [{"key", "operator": In|NotIn|Exists|DoesNotExist, "values"}]}`); null or `{}` is
    /// the empty selector, which matches everything.
    pub fn from_object(selector: &Value) -> Result<Self, String> {
        let mut reqs = Vec::new();
        if selector.is_null() {
            return Ok(Self { reqs });
        }
        let map = selector
            .as_object()
            .ok_or_else(|| format!("a label selector must be an object, not {selector}"))?;
        if let Some(labels) = map.get("matchLabels").filter(|v| !v.is_null()) {
            let labels = labels
                .as_object()
                .ok_or("matchLabels must be an object of strings")?;
            for (key, value) in labels {
                check_key(key)?;
                let value = value
                    .as_str()
                    .ok_or_else(|| format!("matchLabels[{key}] must be a string"))?;
                reqs.push(LabelReq::Eq(key.clone(), value.to_string()));
            }
        }
        if let Some(exprs) = map.get("matchExpressions").filter(|v| !v.is_null()) {
            let exprs = exprs.as_array().ok_or("matchExpressions must be a list")?;
            for expr in exprs {
                let key = expr
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or("a match expression needs a key")?;
                check_key(key)?;
                let values: Vec<String> = expr
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| {
                        vs.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let operator = expr.get("operator").and_then(Value::as_str).unwrap_or("");
                let key = key.to_string();
                reqs.push(match operator {
                    "In" | "NotIn" if values.is_empty() => {
                        return Err(format!(
                            "values: Required value: must be specified when `operator` is 'In' or 'NotIn' (key {key})"
                        ));
                    }
                    "In" => LabelReq::In(key, values),
                    "NotIn" => LabelReq::NotIn(key, values),
                    "Exists" | "DoesNotExist" if !values.is_empty() => {
                        return Err(format!(
                            "values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist' (key {key})"
                        ));
                    }
                    "Exists" => LabelReq::Exists(key),
                    "DoesNotExist" => LabelReq::NotExists(key),
                    other => {
                        return Err(format!(
                            "operator: Invalid value: {other:?}: not a valid selector operator"
                        ));
                    }
                });
            }
        }
        Ok(Self { reqs })
    }

    /// Whether the selector is empty.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = super::meta::labels(obj);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector over dotted paths (`metadata.name`, `spec.nodeName`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses `path=value`, `path==value` and `path!=value`, comma-separated.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, equal, value) = if let Some((p, v)) = part.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (p, true, v)
            } else {
                return Err(format!(
                    "invalid field selector requirement {part:?}: expected path=value"
                ));
            };
            let path = path.trim();
            if path.is_empty() || !path.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
                return Err(format!("invalid field path {path:?}"));
            }
            reqs.push((path.to_string(), equal, value.trim().to_string()));
        }
        Ok(Self { reqs })
    }

    /// The value this selector requires at `path`, if it pins one with `=`.
    pub fn required(&self, path: &str) -> Option<&str> {
        self.reqs
            .iter()
            .find(|(p, eq, _)| *eq && p == path)
            .map(|(_, _, v)| v.as_str())
    }

    /// Whether the object satisfies every requirement. A missing field reads
    /// as the empty string, as Kubernetes' field sets do.
    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(path, equal, want)| {
            let mut cur = Some(obj);
            for seg in path.split('.') {
                cur = cur.and_then(|v| v.get(seg));
            }
            let got = match cur {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (got == *want) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "x", "namespace": "ns", "labels": labels}, "spec": {"nodeName": "n1"}})
    }

    #[test]
    fn label_selectors() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        let check = |s: &str| LabelSelector::parse(s).map(|sel| sel.matches(&o));
        assert_eq!(check("app=web"), Ok(true));
        assert_eq!(check("app==web,tier=front"), Ok(true));
        assert_eq!(check("app!=web"), Ok(false));
        assert_eq!(check("app in (web, api)"), Ok(true));
        assert_eq!(check("app notin (web)"), Ok(false));
        assert_eq!(check("tier,!missing"), Ok(true));
        assert_eq!(check("missing"), Ok(false));
        assert_eq!(check("missing notin (a)"), Ok(true));
        assert_eq!(check(""), Ok(true));
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a,,b").is_err());
    }

    #[test]
    fn field_selectors() {
        let o = obj(json!({}));
        let check = |s: &str| FieldSelector::parse(s).map(|sel| sel.matches(&o));
        assert_eq!(check("metadata.name=x"), Ok(true));
        assert_eq!(check("metadata.name!=x"), Ok(false));
        assert_eq!(check("spec.nodeName=n1,metadata.namespace=ns"), Ok(true));
        assert_eq!(check("spec.nodeName="), Ok(false));
        assert_eq!(check("status.phase="), Ok(true));
        assert!(FieldSelector::parse("nonsense").is_err());
        assert_eq!(
            FieldSelector::parse("metadata.name=x")
                .ok()
                .and_then(|f| f.required("metadata.name").map(str::to_string)),
            Some("x".to_string())
        );
    }

    #[test]
    fn object_form_selectors_match_like_kubernetes() {
        let sel = LabelSelector::from_object(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        }));
        let Ok(sel) = sel else { panic!("{sel:?}") };
        assert!(sel.matches(&obj(json!({"app": "web", "tier": "a"}))));
        assert!(!sel.matches(&obj(json!({"app": "web", "tier": "c"}))));
        assert!(!sel.matches(&obj(json!({"app": "web", "tier": "a", "legacy": "1"}))));
        assert!(!sel.matches(&obj(json!({"tier": "a"}))));
        let everything = LabelSelector::from_object(&json!({}));
        assert!(everything.is_ok_and(|s| s.is_empty()));
        assert!(LabelSelector::from_object(&Value::Null).is_ok_and(|s| s.is_empty()));
        for bad in [
            json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}),
            json!({"matchLabels": {"a": 1}}),
            json!("app=web"),
        ] {
            assert!(LabelSelector::from_object(&bad).is_err(), "{bad}");
        }
    }
}
