//! Label selectors in workload specs: validating a `metav1.LabelSelector`, matching it
//! against a pod template's labels, and printing both as Go's `%#v` does in Kubernetes'
//! messages (`map[string]string{"app":"web"}`).

use serde_json::{Map, Value};

use crate::field::{BadValue, FieldError, Path, forbidden, go_quote, invalid, required};

/// A parsed `matchLabels` / `matchExpressions` selector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Vec<(String, String)>,
    expressions: Vec<Expression>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Expression {
    key: String,
    operator: String,
    values: Vec<String>,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Selector {
    /// Reads and validates a `metav1.LabelSelector` at `path`; `None` when it cannot be used to
    /// match (an unknown operator), with its errors in `errs`.
    pub fn parse(value: &Value, path: &Path, errs: &mut Vec<FieldError>) -> Option<Selector> {
        let mut selector = Selector::default();
        if let Some(labels) = value.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                selector
                    .labels
                    .push((k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
        let mut usable = true;
        let exprs = value.get("matchExpressions").and_then(Value::as_array);
        let expressions_path = path.child("matchExpressions");
        for (i, expr) in exprs.into_iter().flatten().enumerate() {
            let path = expressions_path.index(i);
            let operator = expr
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let values = strings(expr.get("values"));
            match operator {
                "In" | "NotIn" if values.is_empty() => errs.push(required(
                    path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                )),
                "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(forbidden(
                    path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )),
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => {
                    usable = false;
                    errs.push(invalid(
                        path.child("operator"),
                        BadValue::Str(other.to_string()),
                        "not a valid selector operator",
                    ));
                }
            }
            selector.expressions.push(Expression {
                key: expr
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                operator: operator.to_string(),
                values,
            });
        }
        usable.then_some(selector)
    }

    /// A selector of `matchLabels` only (a ReplicationController's `spec.selector` map).
    pub fn from_map(map: &Map<String, Value>) -> Selector {
        Selector {
            labels: map
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
            expressions: Vec::new(),
        }
    }

    /// Whether it selects nothing in particular (no labels, no expressions).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }

    /// Whether `labels` (a pod template's) satisfy it.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.labels.iter().all(|(k, v)| get(k) == Some(v.as_str()))
            && self.expressions.iter().all(|e| {
                let value = get(&e.key);
                match e.operator.as_str() {
                    "In" => value.is_some_and(|v| e.values.iter().any(|x| x == v)),
                    "NotIn" => value.is_none_or(|v| e.values.iter().all(|x| x != v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

/// A `map[string]string` printed as Go's `%#v` prints it: keys sorted; `(nil)` when absent.
pub fn go_map(map: Option<&Map<String, Value>>) -> String {
    let Some(map) = map else {
        return "map[string]string(nil)".into();
    };
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                go_quote(k),
                go_quote(v.as_str().unwrap_or_default())
            )
        })
        .collect();
    format!("map[string]string{{{}}}", body.join(", "))
}

fn go_strings(values: Option<&Value>) -> String {
    match values.and_then(Value::as_array) {
        None => "[]string(nil)".into(),
        Some(a) => {
            let quoted: Vec<String> = a
                .iter()
                .map(|v| go_quote(v.as_str().unwrap_or_default()))
                .collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    }
}

/// A `metav1.LabelSelector` printed as Go's `%#v` prints it.
pub fn go_selector(value: &Value) -> String {
    let labels = go_map(value.get("matchLabels").and_then(Value::as_object));
    let exprs = match value.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|e| {
                    let s =
                        |k: &str| go_quote(e.get(k).and_then(Value::as_str).unwrap_or_default());
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        s("key"),
                        s("operator"),
                        go_strings(e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> (Option<Selector>, Vec<String>) {
        let mut errs = Vec::new();
        let s = Selector::parse(&v, &Path::new("spec").child("selector"), &mut errs);
        (s, errs.iter().map(ToString::to_string).collect())
    }

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn match_labels_and_expressions() {
        let (Some(s), errs) = parse(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "team", "operator": "Exists"}
            ]
        })) else {
            panic!("selector did not parse");
        };
        assert!(errs.is_empty(), "{errs:?}");
        assert!(s.matches(Some(&labels(
            json!({"app": "web", "tier": "a", "team": "x"})
        ))));
        assert!(!s.matches(Some(&labels(
            json!({"app": "web", "tier": "c", "team": "x"})
        ))));
        assert!(!s.matches(Some(&labels(json!({"app": "web", "tier": "a"})))));
        assert!(!s.matches(Some(&labels(
            json!({"app": "web", "tier": "a", "team": "x", "canary": "1"})
        ))));
        assert!(!s.matches(Some(&labels(
            json!({"app": "web", "tier": "a", "team": "x", "env": "prod"})
        ))));
        assert!(!s.matches(None));
        assert!(!s.is_empty());
    }

    #[test]
    fn requirement_errors() {
        let (s, errs) = parse(json!({"matchExpressions": [
            {"key": "a", "operator": "In"},
            {"key": "b", "operator": "Exists", "values": ["x"]},
            {"key": "c", "operator": "Near"}
        ]}));
        assert!(s.is_none());
        assert_eq!(
            errs,
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "spec.selector.matchExpressions[2].operator: Invalid value: \"Near\": not a valid selector operator",
            ]
        );
    }

    #[test]
    fn go_renderings() {
        assert_eq!(go_map(None), "map[string]string(nil)");
        assert_eq!(
            go_map(Some(&labels(json!({"b": "2", "a": "1"})))),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(
            go_selector(&json!({})),
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        assert_eq!(
            go_selector(
                &json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]}]})
            ),
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"a\", Operator:\"In\", Values:[]string{\"x\"}}}}"
        );
        let empty = Selector::from_map(&Map::new());
        assert!(empty.is_empty() && empty.matches(None));
    }
}
