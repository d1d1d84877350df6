//! Rolling back (Deployment docs, "Rolling Back a Deployment"): `kubectl rollout undo`
//! sets the Deployment's template back to an old ReplicaSet's; that ReplicaSet becomes the
//! new one again, takes the next revision (its old one kept in `revision-history`), and
//! no ReplicaSet is created.

use serde_json::json;

use super::cluster::{Cluster, annotation, created, deployment, replicas};
use crate::annotations::{REVISION, REVISION_HISTORY};

fn set_image(cluster: &mut Cluster, image: &str) -> Result<(), String> {
    cluster
        .edit_deployment(|d| d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image))
}

#[test]
fn undo_makes_the_old_replica_set_new_with_the_next_revision() -> Result<(), String> {
    let mut cluster = Cluster::with(deployment(3, "nginx:1"))?;
    cluster.settle()?;
    set_image(&mut cluster, "nginx:2")?;
    cluster.settle()?;
    let rss = cluster.replica_sets();
    let revisions: Vec<_> = rss.iter().map(|rs| annotation(rs, REVISION)).collect();
    assert_eq!(revisions, [Some("1".into()), Some("2".into())]);
    assert_eq!(
        annotation(&cluster.deployment()?, REVISION).as_deref(),
        Some("2")
    );

    // kubectl rollout undo: the template of revision 1, without its hash label.
    let mut template = rss[0]["spec"]["template"].clone();
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove("pod-template-hash");
    }
    cluster.edit_deployment(|d| d["spec"]["template"] = template)?;

    let result = cluster.step()?;
    assert!(
        created(&result).is_empty(),
        "no new ReplicaSet: {:?}",
        result.actions
    );
    let back = cluster.get(
        "apps",
        "ReplicaSet",
        rss[0]["metadata"]["name"].as_str().unwrap_or_default(),
    )?;
    assert_eq!(annotation(&back, REVISION).as_deref(), Some("3"));
    assert_eq!(annotation(&back, REVISION_HISTORY).as_deref(), Some("1"));

    cluster.settle()?;
    let rss = cluster.replica_sets();
    assert_eq!(rss.len(), 2);
    assert_eq!(rss.iter().map(replicas).collect::<Vec<_>>(), [3, 0]);
    assert_eq!(
        rss[0]["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1"
    );
    assert_eq!(
        annotation(&cluster.deployment()?, REVISION).as_deref(),
        Some("3")
    );
    Ok(())
}
