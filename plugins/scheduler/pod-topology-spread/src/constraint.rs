//! A pod's `spec.topologySpreadConstraints`, parsed as kube-scheduler's
//! `filterTopologySpreadConstraints` reads them.

use keel_sdk::scheduler::{PluginError, Pod};
use serde::Deserialize;

use keel_sdk::labels::{LabelSelector, Labels, Requirement, Selector};

/// The JSON of one `TopologySpreadConstraint`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConstraintJson {
    max_skew: i32,
    topology_key: String,
    when_unsatisfiable: WhenUnsatisfiable,
    #[serde(default)]
    label_selector: Option<LabelSelector>,
    #[serde(default)]
    min_domains: Option<i32>,
    #[serde(default)]
    match_label_keys: Option<Vec<String>>,
    #[serde(default)]
    node_affinity_policy: Option<Policy>,
    #[serde(default)]
    node_taints_policy: Option<Policy>,
}

/// What to do when a constraint cannot be met.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenUnsatisfiable {
    /// A hard constraint: the filter enforces it.
    DoNotSchedule,
    /// A soft constraint: the score prefers nodes that keep it.
    ScheduleAnyway,
}

/// A node inclusion policy (`nodeAffinityPolicy`, `nodeTaintsPolicy`).
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    Honor,
    Ignore,
}

/// One constraint, its selector built.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// How far the domains' counts may differ.
    pub max_skew: i64,
    /// The node label whose values are the domains.
    pub topology_key: String,
    /// Hard or soft.
    pub when: WhenUnsatisfiable,
    /// Which pods count, `matchLabelKeys` merged in.
    pub selector: Selector,
    /// Below this many eligible domains the global minimum is 0.
    pub min_domains: usize,
    /// Only nodes matching the pod's node selector and required node affinity are domains.
    pub honor_node_affinity: bool,
    /// Only nodes whose NoSchedule/NoExecute taints the pod tolerates are domains.
    pub honor_node_taints: bool,
}

/// The pod's constraints with `when`, in their order.
pub fn for_pod(pod: &Pod, when: WhenUnsatisfiable) -> Result<Vec<Constraint>, PluginError> {
    let Some(json) = pod.topology_spread_json.as_deref() else {
        return Ok(Vec::new());
    };
    let parsed: Option<Vec<ConstraintJson>> = serde_json::from_str(json)
        .map_err(|e| PluginError::new(format!("bad topologySpreadConstraints JSON: {e}")))?;
    let mut constraints = Vec::new();
    for json in parsed.iter().flatten() {
        let constraint = constraint(json, pod)?;
        if constraint.when == when {
            constraints.push(constraint);
        }
    }
    Ok(constraints)
}

fn constraint(json: &ConstraintJson, pod: &Pod) -> Result<Constraint, PluginError> {
    let bad = |what: &str| {
        PluginError::new(format!(
            "bad topology spread constraint ({:?}): {what}",
            json.topology_key
        ))
    };
    if json.max_skew < 1 {
        return Err(bad("maxSkew must be greater than zero"));
    }
    if json.topology_key.is_empty() {
        return Err(bad("topologyKey must be set"));
    }
    let min_domains = match json.min_domains {
        None => 1,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad("minDomains must be greater than zero"))?,
    };
    let mut selector =
        Selector::parse(json.label_selector.as_ref()).map_err(|e| bad(&e.to_string()))?;
    for key in json.match_label_keys.iter().flatten() {
        if let Some(value) = pod.labels.as_slice().label(key) {
            selector.add(Requirement::equals(key.clone(), value));
        }
    }
    Ok(Constraint {
        max_skew: i64::from(json.max_skew),
        topology_key: json.topology_key.clone(),
        when: json.when_unsatisfiable,
        selector,
        min_domains,
        honor_node_affinity: json.node_affinity_policy != Some(Policy::Ignore),
        honor_node_taints: json.node_taints_policy == Some(Policy::Honor),
    })
}
