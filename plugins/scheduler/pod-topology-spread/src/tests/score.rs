//! The score: ScheduleAnyway constraints and normalisation.

use super::*;
use crate::score::normalize;

// kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition:
// ScheduleAnyway prefers the topologies that reduce the skew: the least loaded zone scores
// highest (kube-scheduler: count * ln(domains + 2) + maxSkew - 1, then
// 100 * (max + min - s) / max). Nodes without the key score 0.
#[test]
fn schedule_anyway_prefers_the_least_loaded_zone() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(
        &mut plugin,
        &[
            (0, "default", FOO, 0),
            (1, "default", FOO, 1),
            (2, "default", FOO, 2),
        ],
    );
    let constraints = spread("ScheduleAnyway", ZONE, "");
    // Raw: zone a round(2 ln 4) = 3, zone b round(ln 4) = 1.
    let scores = plugin.score(&pod(FOO, Some(&constraints)), &all())?;
    assert_eq!(scores, vec![33, 33, 100, 100, 0]);

    // DoNotSchedule constraints do not score.
    let hard = spread("DoNotSchedule", ZONE, "");
    assert_eq!(plugin.score(&pod(FOO, Some(&hard)), &all())?, vec![0; 5]);
    Ok(())
}

// kube-scheduler PodTopologySpread Score: kubernetes.io/hostname is counted per node, and
// weighed by the number of scored candidates.
#[test]
fn schedule_anyway_by_hostname_counts_per_node() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    place(
        &mut plugin,
        &[
            (0, "default", FOO, 0),
            (1, "default", FOO, 0),
            (2, "default", FOO, 1),
        ],
    );
    let constraints = spread("ScheduleAnyway", HOST, "");
    // ln(5 + 2) = 1.95: n0 round(3.89) = 4, n1 round(1.95) = 2, the others 0.
    let scores = plugin.score(&pod(FOO, Some(&constraints)), &all())?;
    assert_eq!(scores, vec![0, 50, 100, 100, 100]);
    Ok(())
}

#[test]
fn normalisation_follows_kubernetes() {
    assert_eq!(normalize(&[Some(0), Some(0), None]), vec![100, 100, 0]);
    assert_eq!(normalize(&[Some(3), Some(1), None]), vec![33, 100, 0]);
    assert_eq!(normalize(&[None]), vec![0]);
}
