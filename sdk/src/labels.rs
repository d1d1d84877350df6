//! Kubernetes' label selectors (`metav1.LabelSelector`), as `LabelSelectorAsSelector`
//! reads them: `matchLabels` and `matchExpressions` (`In`, `NotIn`, `Exists`,
//! `DoesNotExist`) are ANDed; an empty selector (`{}`) matches everything and a null one
//! matches nothing.
//!
//! Label key and value syntax is not validated.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use serde::Deserialize;

/// Something with labels: a pod or a node.
pub trait Labels {
    /// The value of label `key`, if set.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for [(String, String)] {
    fn label(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl<S: BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// The JSON of a `metav1.LabelSelector`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// `key: value` pairs, each the requirement `key In (value)`.
    #[serde(default)]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Further requirements.
    #[serde(default)]
    pub match_expressions: Option<Vec<LabelSelectorRequirement>>,
}

impl LabelSelector {
    /// Whether it states no requirement at all (`{}`: everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && self.match_expressions.as_ref().is_none_or(Vec::is_empty)
    }
}

/// The JSON of one `matchExpressions` entry.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The values for `In` and `NotIn`; empty for the others.
    #[serde(default)]
    pub values: Option<Vec<String>>,
}

/// A selector that could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(pub String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectorError {}

/// How a requirement tests its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// The label is set to one of the values.
    In,
    /// The label is unset or set to none of the values.
    NotIn,
    /// The label is set.
    Exists,
    /// The label is unset.
    DoesNotExist,
}

/// One parsed requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// A requirement, checked as Kubernetes checks it: `In` and `NotIn` need values,
    /// `Exists` and `DoesNotExist` take none.
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, SelectorError> {
        let key = key.into();
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => Err(SelectorError(format!(
                "label selector requirement {key:?}: values must be non-empty for In and NotIn"
            ))),
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                Err(SelectorError(format!(
                    "label selector requirement {key:?}: values must be empty for Exists and DoesNotExist"
                )))
            }
            _ => Ok(Requirement {
                key,
                operator,
                values,
            }),
        }
    }

    /// `key In (value)`.
    pub fn equals(key: impl Into<String>, value: impl Into<String>) -> Requirement {
        Requirement {
            key: key.into(),
            operator: Operator::In,
            values: vec![value.into()],
        }
    }

    /// `key NotIn (value)`.
    pub fn not_equals(key: impl Into<String>, value: impl Into<String>) -> Requirement {
        Requirement {
            key: key.into(),
            operator: Operator::NotIn,
            values: vec![value.into()],
        }
    }

    fn parse(json: &LabelSelectorRequirement) -> Result<Requirement, SelectorError> {
        let operator = match json.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                return Err(SelectorError(format!(
                    "{other:?} is not a valid label selector operator"
                )));
            }
        };
        Requirement::new(
            json.key.clone(),
            operator,
            json.values.clone().unwrap_or_default(),
        )
    }

    /// Whether `labels` satisfy it.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        let value = labels.label(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotIn => value.is_none_or(|v| self.values.iter().all(|x| x != v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// A parsed label selector: requirements ANDed, or nothing at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// None: the selector of a null `LabelSelector`, matching nothing.
    requirements: Option<Vec<Requirement>>,
}

impl Selector {
    /// Matches nothing (a null `LabelSelector`).
    pub fn nothing() -> Selector {
        Selector { requirements: None }
    }

    /// Matches everything (`{}`).
    pub fn everything() -> Selector {
        Selector {
            requirements: Some(Vec::new()),
        }
    }

    /// The selector `json` stands for (`None`: a null selector).
    pub fn parse(json: Option<&LabelSelector>) -> Result<Selector, SelectorError> {
        let Some(json) = json else {
            return Ok(Selector::nothing());
        };
        let mut requirements = Vec::new();
        for (key, value) in json.match_labels.iter().flatten() {
            requirements.push(Requirement::equals(key.clone(), value.clone()));
        }
        for expression in json.match_expressions.iter().flatten() {
            requirements.push(Requirement::parse(expression)?);
        }
        Ok(Selector {
            requirements: Some(requirements),
        })
    }

    /// Whether it matches nothing.
    pub fn is_nothing(&self) -> bool {
        self.requirements.is_none()
    }

    /// Whether it has no requirement and so matches everything (Kubernetes' `Empty()`).
    pub fn is_empty(&self) -> bool {
        self.requirements.as_ref().is_some_and(Vec::is_empty)
    }

    /// Adds a requirement; a selector matching nothing still matches nothing.
    pub fn add(&mut self, requirement: Requirement) {
        if let Some(requirements) = &mut self.requirements {
            requirements.push(requirement);
        }
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        self.requirements
            .as_ref()
            .is_some_and(|requirements| requirements.iter().all(|r| r.matches(labels)))
    }
}

/// The string form the API's `labelSelector` parameter takes (`app=web,tier in (a,b),!gone`);
/// a selector matching nothing has no string form and prints as the impossible `!a,a`.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(requirements) = &self.requirements else {
            return f.write_str("!a,a");
        };
        for (i, r) in requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let key = &r.key;
            match (r.operator, r.values.as_slice()) {
                (Operator::In, [one]) => write!(f, "{key}={one}")?,
                (Operator::NotIn, [one]) => write!(f, "{key}!={one}")?,
                (Operator::In, values) => write!(f, "{key} in ({})", values.join(","))?,
                (Operator::NotIn, values) => write!(f, "{key} notin ({})", values.join(","))?,
                (Operator::Exists, _) => write!(f, "{key}")?,
                (Operator::DoesNotExist, _) => write!(f, "!{key}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(json: &str) -> Result<Selector, SelectorError> {
        let selector: Option<LabelSelector> =
            serde_json::from_str(json).map_err(|e| SelectorError(e.to_string()))?;
        Selector::parse(selector.as_ref())
    }

    #[test]
    fn string_form_round_trips_what_the_api_parses() -> Result<(), SelectorError> {
        let selector = parse(
            r#"{"matchLabels": {"app": "web"}, "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "gone", "operator": "DoesNotExist"},
                {"key": "has", "operator": "Exists"}]}"#,
        )?;
        assert_eq!(
            selector.to_string(),
            "app=web,tier in (a,b),env!=dev,!gone,has"
        );
        assert_eq!(Selector::everything().to_string(), "");
        Ok(())
    }

    #[test]
    fn empty_selector_matches_everything_and_null_nothing() -> Result<(), SelectorError> {
        let pod = labels(&[("app", "web")]);
        assert!(parse("{}")?.matches(pod.as_slice()));
        assert!(parse("{}")?.is_empty());
        assert!(!parse("null")?.matches(pod.as_slice()));
        assert!(!parse("null")?.matches(labels(&[]).as_slice()));
        Ok(())
    }

    #[test]
    fn match_labels_and_expressions_are_anded() -> Result<(), SelectorError> {
        let selector = parse(
            r#"{"matchLabels":{"app":"web"},
                "matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]},
                                    {"key":"canary","operator":"DoesNotExist"}]}"#,
        )?;
        assert!(selector.matches(labels(&[("app", "web"), ("tier", "b")]).as_slice()));
        assert!(!selector.matches(labels(&[("app", "web"), ("tier", "c")]).as_slice()));
        assert!(!selector.matches(labels(&[("app", "db"), ("tier", "a")]).as_slice()));
        assert!(
            !selector.matches(labels(&[("app", "web"), ("tier", "a"), ("canary", "1")]).as_slice())
        );
        Ok(())
    }

    #[test]
    fn not_in_matches_an_absent_label_and_exists_needs_one() -> Result<(), SelectorError> {
        let not_in =
            parse(r#"{"matchExpressions":[{"key":"z","operator":"NotIn","values":["a"]}]}"#)?;
        assert!(not_in.matches(labels(&[]).as_slice()));
        assert!(not_in.matches(labels(&[("z", "b")]).as_slice()));
        assert!(!not_in.matches(labels(&[("z", "a")]).as_slice()));
        let exists = parse(r#"{"matchExpressions":[{"key":"z","operator":"Exists"}]}"#)?;
        assert!(exists.matches(labels(&[("z", "")]).as_slice()));
        assert!(!exists.matches(labels(&[]).as_slice()));
        Ok(())
    }

    #[test]
    fn bad_requirements_are_refused() {
        assert!(
            parse(r#"{"matchExpressions":[{"key":"z","operator":"In","values":[]}]}"#).is_err()
        );
        assert!(
            parse(r#"{"matchExpressions":[{"key":"z","operator":"Exists","values":["a"]}]}"#)
                .is_err()
        );
        let error = parse(r#"{"matchExpressions":[{"key":"z","operator":"Gt","values":["1"]}]}"#);
        assert_eq!(
            error,
            Err(SelectorError(
                "\"Gt\" is not a valid label selector operator".into()
            ))
        );
    }

    #[test]
    fn adding_to_nothing_still_matches_nothing() {
        let mut nothing = Selector::nothing();
        nothing.add(Requirement::equals("app", "web"));
        assert!(!nothing.matches(labels(&[("app", "web")]).as_slice()));
        let mut everything = Selector::everything();
        everything.add(Requirement::not_equals("app", "web"));
        assert!(!everything.matches(labels(&[("app", "web")]).as_slice()));
        assert!(everything.matches(labels(&[("app", "db")]).as_slice()));
    }
}
