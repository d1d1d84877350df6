//! The score: Kubernetes' `InterPodAffinity` PreScore, Score and NormalizeScore.

use keel_sdk::scheduler::{Candidates, PluginError, Pod};

use crate::terms::{Affinity, WeightedTerm};
use crate::topology::TopologySums;
use crate::{InterPodAffinity, MAX_SCORE, NodeEntry, PodEntry};

/// A score per candidate, 0..=100.
pub(crate) fn score(
    plugin: &InterPodAffinity,
    pod: &Pod,
    nodes: &Candidates,
) -> Result<Vec<u32>, PluginError> {
    plugin.check_placed()?;
    let affinity = InterPodAffinity::incoming(pod)?;
    let has_constraints = affinity.has_preferred();
    let skip = if has_constraints {
        false
    } else {
        plugin.with_affinity.is_empty() || plugin.ignore_preferred_terms_of_existing_pods
    };
    if skip {
        return Ok(vec![0; nodes.index.len()]);
    }
    let candidates = nodes
        .index
        .iter()
        .map(|&index| plugin.node(index))
        .collect::<Result<Vec<_>, _>>()?;
    let scorer = Scorer {
        plugin,
        pod,
        affinity: &affinity,
    };
    let mut sums = TopologySums::default();
    if has_constraints {
        // The incoming pod's preferred terms can match any placed pod.
        for (placed, node) in plugin.all_placed() {
            scorer.process(placed, node, &mut sums);
        }
    } else {
        // Only placed pods with terms of their own can add anything.
        for &index in &plugin.with_affinity {
            if let Some((placed, node)) = plugin.placed(index) {
                scorer.process(placed, node, &mut sums);
            }
        }
    }
    if sums.is_empty() {
        return Ok(vec![0; candidates.len()]);
    }
    let raw: Vec<i64> = candidates.iter().map(|node| sums.total(node)).collect();
    Ok(normalize(&raw))
}

/// What one call scores against.
struct Scorer<'a> {
    plugin: &'a InterPodAffinity,
    pod: &'a Pod,
    affinity: &'a Affinity,
}

impl<'a> Scorer<'a> {
    /// Kubernetes' `processExistingPod`: what one placed pod adds to its node's domains.
    fn process(&self, placed: &'a PodEntry, node: &'a NodeEntry, sums: &mut TopologySums<'a>) {
        if node.labels.is_empty() {
            return;
        }
        let (own, theirs) = (self.affinity, &placed.affinity);
        // The incoming pod's preferred terms that the placed pod matches.
        let matches_placed =
            |w: &WeightedTerm| w.term.matches(&placed.namespace, placed.labels.as_slice());
        for (terms, sign) in [
            (&own.preferred_affinity, 1),
            (&own.preferred_anti_affinity, -1),
        ] {
            add_weighted(sums, node, terms, sign, matches_placed);
        }
        // The placed pod's terms that the incoming pod matches.
        let pod = self.pod;
        let matches_incoming =
            |w: &WeightedTerm| w.term.matches(&pod.namespace, pod.labels.as_slice());
        let hard_weight = self.plugin.hard_pod_affinity_weight;
        if hard_weight > 0 {
            for term in &theirs.required_affinity {
                if term.matches(&pod.namespace, pod.labels.as_slice()) {
                    sums.add(node, &term.topology_key, hard_weight);
                }
            }
        }
        for (terms, sign) in [
            (&theirs.preferred_affinity, 1),
            (&theirs.preferred_anti_affinity, -1),
        ] {
            add_weighted(sums, node, terms, sign, matches_incoming);
        }
    }
}

/// Adds `sign * weight` to `node`'s domain for each term `matches` accepts.
fn add_weighted<'a>(
    sums: &mut TopologySums<'a>,
    node: &'a NodeEntry,
    terms: &'a [WeightedTerm],
    sign: i64,
    matches: impl Fn(&WeightedTerm) -> bool,
) {
    for weighted in terms.iter().filter(|w| matches(w)) {
        sums.add(node, &weighted.term.topology_key, sign * weighted.weight);
    }
}

/// Kubernetes' `NormalizeScore` for this plugin: `100 * (s - min) / (max - min)`, in
/// floating point and truncated as Kubernetes computes it; all 0 when every sum is equal.
pub(crate) fn normalize(raw: &[i64]) -> Vec<u32> {
    let (Some(&min), Some(&max)) = (raw.iter().min(), raw.iter().max()) else {
        return Vec::new();
    };
    let spread = max - min;
    raw.iter()
        .map(|&s| {
            if spread <= 0 {
                return 0;
            }
            let score = f64::from(MAX_SCORE) * ((s - min) as f64 / spread as f64);
            score as u32
        })
        .collect()
}
