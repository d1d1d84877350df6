//! A pod's `spec.affinity` pod (anti-)affinity terms, parsed once: namespaces resolved
//! against the pod that owns the terms, selectors built, `matchLabelKeys` and
//! `mismatchLabelKeys` merged into the selector as the API server does.

use keel_sdk::scheduler::PluginError;
use serde::Deserialize;

use keel_sdk::labels::{LabelSelector, Labels, Requirement, Selector};

/// The JSON of `spec.affinity`; `nodeAffinity` is another plugin's and is skipped.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AffinityJson {
    #[serde(default)]
    pod_affinity: Option<PodAffinityJson>,
    #[serde(default)]
    pod_anti_affinity: Option<PodAffinityJson>,
}

/// `podAffinity` and `podAntiAffinity` have the same shape.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodAffinityJson {
    #[serde(default)]
    required_during_scheduling_ignored_during_execution: Option<Vec<TermJson>>,
    #[serde(default)]
    preferred_during_scheduling_ignored_during_execution: Option<Vec<WeightedTermJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TermJson {
    #[serde(default)]
    label_selector: Option<LabelSelector>,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
    topology_key: String,
    #[serde(default)]
    namespace_selector: Option<LabelSelector>,
    #[serde(default)]
    match_label_keys: Option<Vec<String>>,
    #[serde(default)]
    mismatch_label_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WeightedTermJson {
    weight: i32,
    pod_affinity_term: TermJson,
}

/// The namespaces a term looks in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    /// Every namespace (`namespaceSelector: {}`).
    All,
    /// These (the owner's own when the term names none).
    Listed(Vec<String>),
}

/// One `PodAffinityTerm`, ready to match pods.
#[derive(Debug, Clone)]
pub struct Term {
    /// Where matching pods are looked for.
    pub namespaces: Namespaces,
    /// Which pods match.
    pub selector: Selector,
    /// The node label whose value is the topology domain.
    pub topology_key: String,
}

impl Term {
    /// Whether a pod in `namespace` with `labels` matches the term (topology aside).
    pub fn matches<L: Labels + ?Sized>(&self, namespace: &str, labels: &L) -> bool {
        let in_scope = match &self.namespaces {
            Namespaces::All => true,
            Namespaces::Listed(names) => names.iter().any(|n| n == namespace),
        };
        in_scope && self.selector.matches(labels)
    }
}

/// A preferred term and its weight.
#[derive(Debug, Clone)]
pub struct WeightedTerm {
    /// Added (affinity) or subtracted (anti-affinity) per matching pod.
    pub weight: i64,
    /// The term.
    pub term: Term,
}

/// A pod's pod affinity and anti-affinity, required and preferred.
#[derive(Debug, Clone, Default)]
pub struct Affinity {
    /// `podAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_affinity: Vec<Term>,
    /// `podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_anti_affinity: Vec<Term>,
    /// `podAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_affinity: Vec<WeightedTerm>,
    /// `podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_anti_affinity: Vec<WeightedTerm>,
}

/// The pod owning some terms: what they resolve against.
pub struct Owner<'a> {
    /// Its namespace, the default scope of its terms.
    pub namespace: &'a str,
    /// Its labels, the source of `matchLabelKeys` values.
    pub labels: &'a [(String, String)],
}

impl Affinity {
    /// Parses `spec.affinity` (`None` or `null`: no terms).
    pub fn parse(json: Option<&str>, owner: &Owner<'_>) -> Result<Affinity, PluginError> {
        let Some(json) = json else {
            return Ok(Affinity::default());
        };
        let parsed: Option<AffinityJson> = serde_json::from_str(json)
            .map_err(|e| PluginError::new(format!("bad affinity JSON: {e}")))?;
        let parsed = parsed.unwrap_or_default();
        let affinity = parsed.pod_affinity.unwrap_or_default();
        let anti = parsed.pod_anti_affinity.unwrap_or_default();
        Ok(Affinity {
            required_affinity: terms(
                affinity.required_during_scheduling_ignored_during_execution,
                owner,
            )?,
            required_anti_affinity: terms(
                anti.required_during_scheduling_ignored_during_execution,
                owner,
            )?,
            preferred_affinity: weighted(
                affinity.preferred_during_scheduling_ignored_during_execution,
                owner,
            )?,
            preferred_anti_affinity: weighted(
                anti.preferred_during_scheduling_ignored_during_execution,
                owner,
            )?,
        })
    }

    /// Whether it has no term at all.
    pub fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }

    /// Whether it has preferred terms (the incoming pod's scoring constraints).
    pub fn has_preferred(&self) -> bool {
        !self.preferred_affinity.is_empty() || !self.preferred_anti_affinity.is_empty()
    }
}

fn terms(json: Option<Vec<TermJson>>, owner: &Owner<'_>) -> Result<Vec<Term>, PluginError> {
    json.unwrap_or_default()
        .iter()
        .map(|t| term(t, owner))
        .collect()
}

fn weighted(
    json: Option<Vec<WeightedTermJson>>,
    owner: &Owner<'_>,
) -> Result<Vec<WeightedTerm>, PluginError> {
    json.unwrap_or_default()
        .iter()
        .map(|w| {
            Ok(WeightedTerm {
                weight: i64::from(w.weight),
                term: term(&w.pod_affinity_term, owner)?,
            })
        })
        .collect()
}

fn term(json: &TermJson, owner: &Owner<'_>) -> Result<Term, PluginError> {
    let mut selector = Selector::parse(json.label_selector.as_ref())
        .map_err(|e| PluginError::new(format!("bad pod affinity term: {e}")))?;
    for key in json.match_label_keys.iter().flatten() {
        if let Some(value) = owner.labels.label(key) {
            selector.add(Requirement::equals(key.clone(), value));
        }
    }
    for key in json.mismatch_label_keys.iter().flatten() {
        if let Some(value) = owner.labels.label(key) {
            selector.add(Requirement::not_equals(key.clone(), value));
        }
    }
    Ok(Term {
        namespaces: namespaces(json, owner)?,
        selector,
        topology_key: json.topology_key.clone(),
    })
}

/// Kubernetes: the term's `namespaces`, or the owner's namespace when it names none and
/// has no `namespaceSelector`. Only the selector `{}` (every namespace) is supported, as
/// the plugin does not see namespace labels.
fn namespaces(json: &TermJson, owner: &Owner<'_>) -> Result<Namespaces, PluginError> {
    match &json.namespace_selector {
        Some(selector) if selector.is_empty() => Ok(Namespaces::All),
        Some(_) => Err(PluginError::new(
            "namespaceSelector is not supported (only {}, every namespace)",
        )),
        None => match &json.namespaces {
            Some(names) if !names.is_empty() => Ok(Namespaces::Listed(names.clone())),
            _ => Ok(Namespaces::Listed(vec![owner.namespace.to_string()])),
        },
    }
}
