//! Node selector terms (`v1.NodeSelectorTerm`) read from JSON, parsed and matched as
//! Kubernetes' `k8s.io/component-helpers/scheduling/corev1/nodeaffinity` does:
//! - a term's `matchExpressions` and `matchFields` are ANDed; terms are ORed; a term with
//!   neither selects nothing, and so does an empty term list;
//! - expressions follow `labels.NewRequirement` and `Requirement.Matches`: `In` and `NotIn`
//!   need values, `Exists` and `DoesNotExist` none, `Gt` and `Lt` exactly one integer, and
//!   match only a label whose value is an integer;
//! - fields (only `metadata.name` exists on a node) take `In` or `NotIn` with one value;
//! - a required term that does not parse matches nothing (`LazyErrorNodeSelector`); a
//!   preferred term or a configured term that does not parse is an error.

use serde::{Deserialize, Deserializer};

/// The JSON of `spec.affinity`; only `nodeAffinity` is read.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AffinitySpec {
    pub(crate) node_affinity: Option<NodeAffinitySpec>,
}

/// `v1.NodeAffinity`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeAffinitySpec {
    pub(crate) required_during_scheduling_ignored_during_execution: Option<NodeSelectorSpec>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) preferred_during_scheduling_ignored_during_execution: Vec<PreferredTermSpec>,
}

/// `v1.NodeSelector`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeSelectorSpec {
    #[serde(default, deserialize_with = "nullable")]
    node_selector_terms: Vec<TermSpec>,
}

/// `v1.PreferredSchedulingTerm`.
#[derive(Deserialize, Default)]
pub(crate) struct PreferredTermSpec {
    #[serde(default)]
    weight: i32,
    #[serde(default, deserialize_with = "nullable")]
    preference: TermSpec,
}

/// `v1.NodeSelectorTerm`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TermSpec {
    #[serde(default, deserialize_with = "nullable")]
    match_expressions: Vec<RequirementSpec>,
    #[serde(default, deserialize_with = "nullable")]
    match_fields: Vec<RequirementSpec>,
}

/// `v1.NodeSelectorRequirement`.
#[derive(Deserialize)]
struct RequirementSpec {
    #[serde(default)]
    key: String,
    #[serde(default)]
    operator: String,
    #[serde(default, deserialize_with = "nullable")]
    values: Vec<String>,
}

/// JSON `null` read as the type's default, as Go reads it into a slice or struct.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// What a term is matched against: a node's name and labels (sorted by key).
pub(crate) struct NodeView<'a> {
    pub(crate) name: &'a str,
    pub(crate) labels: &'a [(String, String)],
}

impl NodeView<'_> {
    /// The value of label `key`, if the node has it.
    pub(crate) fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.labels[i].1.as_str())
    }

    /// The value of field `key`: the name for `metadata.name`, empty for any other key (as
    /// `fields.Set.Get`).
    fn field(&self, key: &str) -> &str {
        if key == "metadata.name" {
            self.name
        } else {
            ""
        }
    }
}

enum LabelOp {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

struct LabelRequirement {
    key: String,
    op: LabelOp,
}

impl LabelRequirement {
    fn parse(spec: &RequirementSpec, path: &str) -> Result<LabelRequirement, String> {
        let values = &spec.values;
        let op = match spec.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "{path}.values: Required value: for 'in', 'notin' operators, values set can't be empty"
                ));
            }
            "In" => LabelOp::In(values.clone()),
            "NotIn" => LabelOp::NotIn(values.clone()),
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "{path}.values: Forbidden: values set must be empty for exists and does not exist"
                ));
            }
            "Exists" => LabelOp::Exists,
            "DoesNotExist" => LabelOp::DoesNotExist,
            "Gt" => LabelOp::Gt(single_integer(values, path)?),
            "Lt" => LabelOp::Lt(single_integer(values, path)?),
            other => {
                return Err(format!(
                    "{path}.operator: Unsupported value: {other:?}: supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\""
                ));
            }
        };
        Ok(LabelRequirement {
            key: spec.key.clone(),
            op,
        })
    }

    fn matches(&self, node: &NodeView) -> bool {
        let value = node.label(&self.key);
        match &self.op {
            LabelOp::In(values) => value.is_some_and(|v| values.iter().any(|x| x == v)),
            LabelOp::NotIn(values) => !value.is_some_and(|v| values.iter().any(|x| x == v)),
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
            LabelOp::Gt(bound) => integer(value).is_some_and(|v| v > *bound),
            LabelOp::Lt(bound) => integer(value).is_some_and(|v| v < *bound),
        }
    }
}

/// The one integer value `Gt` and `Lt` take.
fn single_integer(values: &[String], path: &str) -> Result<i64, String> {
    match values {
        [value] => value.parse().map_err(|_| {
            format!("{path}.values[0]: Invalid value: {value:?}: for 'Gt', 'Lt' operators, the value must be an integer")
        }),
        _ => Err(format!(
            "{path}.values: Required value: for 'Gt', 'Lt' operators, exactly one value is required"
        )),
    }
}

/// A label value read as Go's `strconv.ParseInt(v, 10, 64)`; none when it is not one.
fn integer(value: Option<&str>) -> Option<i64> {
    value.and_then(|v| v.parse().ok())
}

struct FieldRequirement {
    key: String,
    value: String,
    equal: bool,
}

impl FieldRequirement {
    fn parse(spec: &RequirementSpec, path: &str) -> Result<FieldRequirement, String> {
        let equal = match spec.operator.as_str() {
            "In" => true,
            "NotIn" => false,
            other => {
                return Err(format!(
                    "{path}.operator: Unsupported value: {other:?}: supported values: \"In\", \"NotIn\""
                ));
            }
        };
        match spec.values.as_slice() {
            [value] => Ok(FieldRequirement {
                key: spec.key.clone(),
                value: value.clone(),
                equal,
            }),
            values => Err(format!(
                "{path}.values: Invalid value: {values:?}: must have one element"
            )),
        }
    }

    fn matches(&self, node: &NodeView) -> bool {
        (node.field(&self.key) == self.value) == self.equal
    }
}

/// One parsed `NodeSelectorTerm`: its label and field requirements, ANDed.
pub(crate) struct Term {
    labels: Vec<LabelRequirement>,
    fields: Vec<FieldRequirement>,
}

impl Term {
    /// The term, none when it is empty (selects nothing), or why it does not parse.
    fn parse(spec: &TermSpec, path: &str) -> Result<Option<Term>, String> {
        if spec.match_expressions.is_empty() && spec.match_fields.is_empty() {
            return Ok(None);
        }
        let labels = spec
            .match_expressions
            .iter()
            .enumerate()
            .map(|(i, r)| LabelRequirement::parse(r, &format!("{path}.matchExpressions[{i}]")))
            .collect::<Result<_, _>>()?;
        let fields = spec
            .match_fields
            .iter()
            .enumerate()
            .map(|(i, r)| FieldRequirement::parse(r, &format!("{path}.matchFields[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Some(Term { labels, fields }))
    }

    fn matches(&self, node: &NodeView) -> bool {
        self.labels.iter().all(|r| r.matches(node)) && self.fields.iter().all(|r| r.matches(node))
    }
}

/// A parsed `NodeSelector`: its terms, ORed.
pub(crate) struct Selector {
    terms: Vec<Term>,
}

impl Selector {
    /// A pod's required selector: terms that do not parse are dropped, as they match nothing
    /// (`LazyErrorNodeSelector`: "Ignore parsing errors for backwards compatibility").
    pub(crate) fn lazy(spec: &NodeSelectorSpec) -> Selector {
        let terms = spec
            .node_selector_terms
            .iter()
            .filter_map(|term| Term::parse(term, "").ok().flatten())
            .collect();
        Selector { terms }
    }

    /// A configured selector (`NewNodeSelector`): any term that does not parse is an error.
    pub(crate) fn strict(spec: &NodeSelectorSpec, path: &str) -> Result<Selector, String> {
        let mut terms = Vec::new();
        for (i, term) in spec.node_selector_terms.iter().enumerate() {
            if let Some(term) = Term::parse(term, &format!("{path}.nodeSelectorTerms[{i}]"))? {
                terms.push(term);
            }
        }
        Ok(Selector { terms })
    }

    /// Whether any term matches the node.
    pub(crate) fn matches(&self, node: &NodeView) -> bool {
        self.terms.iter().any(|term| term.matches(node))
    }
}

/// Parsed preferred terms with their weights (`PreferredSchedulingTerms`).
#[derive(Default)]
pub(crate) struct Preferred {
    terms: Vec<(i64, Term)>,
}

impl Preferred {
    /// Whether there are no terms.
    pub(crate) fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms (`NewPreferredSchedulingTerms`): a term weighing 0 or selecting nothing is
    /// skipped; any other that does not parse is an error.
    pub(crate) fn parse(specs: &[PreferredTermSpec], path: &str) -> Result<Preferred, String> {
        let mut terms = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            if spec.weight == 0 {
                continue;
            }
            let path = format!("{path}[{i}].preference");
            if let Some(term) = Term::parse(&spec.preference, &path)? {
                terms.push((i64::from(spec.weight), term));
            }
        }
        Ok(Preferred { terms })
    }

    /// The sum of the weights of the terms matching the node.
    pub(crate) fn score(&self, node: &NodeView) -> i64 {
        self.terms
            .iter()
            .filter(|(_, term)| term.matches(node))
            .map(|(weight, _)| weight)
            .sum()
    }
}
