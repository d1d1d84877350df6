//! The score: Kubernetes' `PodTopologySpread` PreScore, Score and NormalizeScore over the
//! `ScheduleAnyway` constraints.

use std::collections::HashSet;

use keel_sdk::scheduler::{Candidates, PluginError, Pod};

use crate::constraint::{self, Constraint, WhenUnsatisfiable};
use crate::{MAX_SCORE, NodeEntry, PodTopologySpread, has_all_keys};
use keel_sdk::labels::Labels;

/// The topology key Kubernetes counts per node rather than per domain.
const HOSTNAME: &str = "kubernetes.io/hostname";

/// A score per candidate, 0..=100: the least loaded domains score highest.
pub(crate) fn score(
    plugin: &PodTopologySpread,
    pod: &Pod,
    nodes: &Candidates,
) -> Result<Vec<u32>, PluginError> {
    let constraints = constraint::for_pod(pod, WhenUnsatisfiable::ScheduleAnyway)?;
    if constraints.is_empty() {
        return Ok(vec![0; nodes.index.len()]);
    }
    let candidates = nodes
        .index
        .iter()
        .map(|&index| Ok((index as usize, plugin.node(index)?)))
        .collect::<Result<Vec<_>, PluginError>>()?;
    // Candidates without every key are not scored (Kubernetes' IgnoredNodes).
    let scored: Vec<Option<(usize, &NodeEntry)>> = candidates
        .iter()
        .map(|&(index, node)| has_all_keys(node, &constraints).then_some((index, node)))
        .collect();
    let weights = normalizing_weights(&constraints, &scored);
    let per_node = plugin.matching_pods_per_node(pod, &constraints);
    let domains = plugin.count_domains(pod, &constraints, &per_node)?;
    let raw: Vec<Option<i64>> = scored
        .iter()
        .map(|candidate| {
            let (index, node) = (*candidate)?;
            let mut sum = 0.0;
            for (i, c) in constraints.iter().enumerate() {
                let count = if c.topology_key == HOSTNAME {
                    per_node[i].get(index).copied().unwrap_or(0)
                } else {
                    let value = node.labels.label(&c.topology_key)?;
                    domains[i].get(value).copied().unwrap_or(0)
                };
                sum += count as f64 * weights[i] + (c.max_skew - 1) as f64;
            }
            Some(sum.round() as i64)
        })
        .collect();
    Ok(normalize(&raw))
}

/// Kubernetes' `topologyNormalizingWeight`: `ln(size + 2)`, size the number of the scored
/// candidates' domains (for the hostname key, the number of scored candidates).
fn normalizing_weights(
    constraints: &[Constraint],
    scored: &[Option<(usize, &NodeEntry)>],
) -> Vec<f64> {
    constraints
        .iter()
        .map(|c| {
            let size = if c.topology_key == HOSTNAME {
                scored.iter().flatten().count()
            } else {
                let values: HashSet<&str> = scored
                    .iter()
                    .flatten()
                    .filter_map(|(_, node)| node.labels.label(&c.topology_key))
                    .collect();
                values.len()
            };
            ((size + 2) as f64).ln()
        })
        .collect()
}

/// Kubernetes' `NormalizeScore` for this plugin: `100 * (max + min - s) / max` over the
/// scored candidates (100 for all when `max` is 0); unscored candidates get 0.
pub(crate) fn normalize(raw: &[Option<i64>]) -> Vec<u32> {
    let min = raw.iter().flatten().copied().min().unwrap_or(0);
    let max = raw.iter().flatten().copied().max().unwrap_or(0).max(0);
    let max_score = i64::from(MAX_SCORE);
    raw.iter()
        .map(|score| match *score {
            None => 0,
            Some(_) if max == 0 => MAX_SCORE,
            Some(s) => {
                let normalized = max_score * (max + min - s) / max;
                u32::try_from(normalized.clamp(0, max_score)).unwrap_or(0)
            }
        })
        .collect()
}
