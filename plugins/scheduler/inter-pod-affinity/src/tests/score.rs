//! The score: preferred terms, symmetry and normalisation.

use super::*;
use crate::score::normalize;

fn preferred(kind: &str, weight: i32, selector: &str, key: &str) -> String {
    format!(
        r#""{kind}":{{"preferredDuringSchedulingIgnoredDuringExecution":[
            {{"weight":{weight},"podAffinityTerm":{{"labelSelector":{selector},"topologyKey":"{key}"}}}}]}}"#
    )
}

// kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity:
// preferred terms add (affinity) or subtract (anti-affinity) their weight in the domains of
// matching pods; kube-scheduler normalises (s - min) * 100 / (max - min).
#[test]
fn preferred_terms_score_and_normalise() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    plugin.sync_pods(
        vec![
            placed(0, "default", &[("app", "db")], 0, None),
            placed(1, "default", &[("app", "cache")], 2, None),
        ],
        vec![],
    );
    let affinity = format!(
        "{{{},{}}}",
        preferred("podAffinity", 80, DB, ZONE),
        preferred(
            "podAntiAffinity",
            20,
            r#"{"matchLabels":{"app":"cache"}}"#,
            ZONE
        )
    );
    // Raw: zone a 80, zone b -20, n4 (no zone) 0.
    let scores = plugin.score(&pod(&[("app", "web")], Some(&affinity)), &all())?;
    assert_eq!(scores, vec![100, 100, 0, 0, 20]);
    Ok(())
}

// kube-scheduler InterPodAffinity processExistingPod: placed pods' preferred terms and
// required affinity (hardPodAffinityWeight, default 1) that the incoming pod matches count too.
#[test]
fn placed_pods_terms_score_symmetrically() -> Result<(), PluginError> {
    let mut plugin = cluster()?;
    let wants_web = required("podAffinity", WEB, ZONE);
    let avoids_web = format!("{{{}}}", preferred("podAntiAffinity", 3, WEB, ZONE));
    plugin.sync_pods(
        vec![
            placed(0, "default", &[("app", "api")], 2, Some(&wants_web)),
            placed(1, "default", &[("app", "batch")], 0, Some(&avoids_web)),
        ],
        vec![],
    );
    // Raw: zone a -3, zone b +1, n4 0: spread 4.
    let scores = plugin.score(&pod(&[("app", "web")], None), &all())?;
    assert_eq!(scores, vec![0, 0, 100, 100, 75]);

    // A pod neither term matches scores 0 everywhere.
    assert_eq!(
        plugin.score(&pod(&[("app", "x")], None), &all())?,
        vec![0; 5]
    );

    // hardPodAffinityWeight 0 drops the required term's share.
    let mut weightless = InterPodAffinity::from_config(r#"{"hardPodAffinityWeight":0}"#)?;
    weightless.sync_nodes(
        vec![node(0, &[(ZONE, "a")]), node(2, &[(ZONE, "b")])],
        vec![],
    );
    weightless.sync_pods(
        vec![placed(0, "default", &[("app", "api")], 2, Some(&wants_web))],
        vec![],
    );
    assert_eq!(
        weightless.score(&pod(&[("app", "web")], None), &candidates(&[0, 2]))?,
        vec![0, 0]
    );
    Ok(())
}

#[test]
fn normalisation_follows_kubernetes() {
    assert_eq!(normalize(&[5, 5, 5]), vec![0, 0, 0]);
    assert_eq!(normalize(&[-10, 0, 10]), vec![0, 50, 100]);
    // Floating point, truncated: 100 * (29 / 100) is 28.999...
    assert_eq!(normalize(&[0, 29, 100]), vec![0, 28, 100]);
    assert_eq!(normalize(&[]), Vec::<u32>::new());
}
