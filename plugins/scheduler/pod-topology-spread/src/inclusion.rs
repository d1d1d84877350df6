//! Which nodes count as domains: Kubernetes' node inclusion policies. `Honor` for
//! `nodeAffinityPolicy` keeps the nodes matching the pod's `nodeSelector` and required node
//! affinity (`GetRequiredNodeAffinity`); `Honor` for `nodeTaintsPolicy` keeps the nodes
//! whose `NoSchedule` and `NoExecute` taints the pod tolerates.

use keel_sdk::scheduler::{PluginError, Pod, Taint, TaintEffect, Toleration, TolerationOperator};
use serde::Deserialize;

use crate::NodeEntry;
use crate::constraint::Constraint;

/// The JSON of `spec.affinity`; only `nodeAffinity` is read here.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AffinityJson {
    #[serde(default)]
    node_affinity: Option<NodeAffinityJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeAffinityJson {
    #[serde(default)]
    required_during_scheduling_ignored_during_execution: Option<NodeSelectorJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeSelectorJson {
    #[serde(default)]
    node_selector_terms: Vec<NodeSelectorTermJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeSelectorTermJson {
    #[serde(default)]
    match_expressions: Vec<RequirementJson>,
    #[serde(default)]
    match_fields: Vec<RequirementJson>,
}

#[derive(Deserialize)]
struct RequirementJson {
    key: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

/// One node selector requirement, on a label or on the node's name.
#[derive(Debug)]
enum NodeRequirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    Gt(String, i64),
    Lt(String, i64),
    NameIn(String),
    NameNotIn(String),
}

impl NodeRequirement {
    /// A `matchExpressions` entry, or None when Kubernetes would refuse it.
    fn label(json: &RequirementJson) -> Option<NodeRequirement> {
        let key = json.key.clone();
        let values = &json.values;
        let number = || match values.as_slice() {
            [value] => value.parse::<i64>().ok(),
            _ => None,
        };
        match json.operator.as_str() {
            "In" if !values.is_empty() => Some(NodeRequirement::In(key, values.clone())),
            "NotIn" if !values.is_empty() => Some(NodeRequirement::NotIn(key, values.clone())),
            "Exists" if values.is_empty() => Some(NodeRequirement::Exists(key)),
            "DoesNotExist" if values.is_empty() => Some(NodeRequirement::DoesNotExist(key)),
            "Gt" => Some(NodeRequirement::Gt(key, number()?)),
            "Lt" => Some(NodeRequirement::Lt(key, number()?)),
            _ => None,
        }
    }

    /// A `matchFields` entry: only `metadata.name`, `In` or `NotIn` one value.
    fn field(json: &RequirementJson) -> Option<NodeRequirement> {
        let [value] = json.values.as_slice() else {
            return None;
        };
        match (json.key.as_str(), json.operator.as_str()) {
            ("metadata.name", "In") => Some(NodeRequirement::NameIn(value.clone())),
            ("metadata.name", "NotIn") => Some(NodeRequirement::NameNotIn(value.clone())),
            _ => None,
        }
    }

    fn matches(&self, node: &NodeEntry) -> bool {
        let label = |key: &str| node.labels.get(key).map(String::as_str);
        let number = |key: &str| label(key).and_then(|v| v.parse::<i64>().ok());
        match self {
            NodeRequirement::In(key, values) => {
                label(key).is_some_and(|v| values.iter().any(|x| x == v))
            }
            NodeRequirement::NotIn(key, values) => {
                label(key).is_none_or(|v| values.iter().all(|x| x != v))
            }
            NodeRequirement::Exists(key) => label(key).is_some(),
            NodeRequirement::DoesNotExist(key) => label(key).is_none(),
            NodeRequirement::Gt(key, bound) => number(key).is_some_and(|n| n > *bound),
            NodeRequirement::Lt(key, bound) => number(key).is_some_and(|n| n < *bound),
            NodeRequirement::NameIn(name) => node.name == *name,
            NodeRequirement::NameNotIn(name) => node.name != *name,
        }
    }
}

/// One node selector term: its requirements ANDed. None: an empty or invalid term, which
/// matches no node.
type NodeTerm = Option<Vec<NodeRequirement>>;

fn term(json: &NodeSelectorTermJson) -> NodeTerm {
    if json.match_expressions.is_empty() && json.match_fields.is_empty() {
        return None;
    }
    let labels = json.match_expressions.iter().map(NodeRequirement::label);
    let fields = json.match_fields.iter().map(NodeRequirement::field);
    labels.chain(fields).collect()
}

/// The pod's `nodeSelector` and required node affinity.
#[derive(Debug, Default)]
pub struct RequiredNodeAffinity {
    node_selector: Vec<(String, String)>,
    /// None: no required node affinity. Some: the terms, ORed.
    terms: Option<Vec<NodeTerm>>,
}

impl RequiredNodeAffinity {
    /// Reads the pod's node selector and the `nodeAffinity` of its `spec.affinity`.
    pub fn for_pod(pod: &Pod) -> Result<RequiredNodeAffinity, PluginError> {
        let affinity: Option<AffinityJson> = match pod.affinity_json.as_deref() {
            None => None,
            Some(json) => serde_json::from_str(json)
                .map_err(|e| PluginError::new(format!("bad affinity JSON: {e}")))?,
        };
        let required = affinity
            .and_then(|a| a.node_affinity)
            .and_then(|n| n.required_during_scheduling_ignored_during_execution);
        Ok(RequiredNodeAffinity {
            node_selector: pod.node_selector.clone(),
            terms: required.map(|r| r.node_selector_terms.iter().map(term).collect()),
        })
    }

    /// Whether `node` matches the node selector and some required term.
    pub fn matches(&self, node: &NodeEntry) -> bool {
        let selected = self
            .node_selector
            .iter()
            .all(|(key, value)| node.labels.get(key) == Some(value));
        selected
            && self.terms.as_ref().is_none_or(|terms| {
                terms
                    .iter()
                    .flatten()
                    .any(|term| term.iter().all(|r| r.matches(node)))
            })
    }
}

/// What a node is, for the inclusion policies: computed once per node and call.
#[derive(Clone, Copy, Debug)]
pub struct NodeFit {
    /// It matches the pod's node selector and required node affinity.
    pub affinity: bool,
    /// The pod tolerates its NoSchedule and NoExecute taints.
    pub taints: bool,
}

impl NodeFit {
    /// How `node` fits `pod`; only what some constraint honours is computed.
    pub fn of(
        node: &NodeEntry,
        pod: &Pod,
        affinity: &RequiredNodeAffinity,
        constraints: &[Constraint],
    ) -> NodeFit {
        let honors_affinity = constraints.iter().any(|c| c.honor_node_affinity);
        let honors_taints = constraints.iter().any(|c| c.honor_node_taints);
        NodeFit {
            affinity: !honors_affinity || affinity.matches(node),
            taints: !honors_taints || tolerates_all(&node.taints, &pod.tolerations),
        }
    }

    /// Whether the node is a domain for `constraint`.
    pub fn admits(&self, constraint: &Constraint) -> bool {
        (!constraint.honor_node_affinity || self.affinity)
            && (!constraint.honor_node_taints || self.taints)
    }
}

/// Whether every NoSchedule and NoExecute taint is tolerated.
fn tolerates_all(taints: &[Taint], tolerations: &[Toleration]) -> bool {
    taints
        .iter()
        .filter(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute))
        .all(|taint| tolerations.iter().any(|t| tolerates(t, taint)))
}

/// Kubernetes' `ToleratesTaint`.
fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect_ok = toleration
        .effect
        .is_none_or(|effect| same_effect(effect, taint.effect));
    let key_ok = toleration.key.is_empty() || toleration.key == taint.key;
    let value_ok = match toleration.operator {
        TolerationOperator::Exists => true,
        TolerationOperator::Equal => toleration.value == taint.value,
    };
    effect_ok && key_ok && value_ok
}

fn same_effect(a: TaintEffect, b: TaintEffect) -> bool {
    matches!(
        (a, b),
        (TaintEffect::NoSchedule, TaintEffect::NoSchedule)
            | (TaintEffect::PreferNoSchedule, TaintEffect::PreferNoSchedule)
            | (TaintEffect::NoExecute, TaintEffect::NoExecute)
    )
}
