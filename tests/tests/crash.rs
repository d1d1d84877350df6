//! Durability: SIGKILL the server under concurrent creates and updates,
//! restart it over the same data, and find every acknowledged write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::ConfigMap;
use keel_tests::Server;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const CREATORS: usize = 8;
const UPDATERS: usize = 8;

#[derive(Default)]
struct Acked {
    /// Objects whose create was answered 201.
    created: Vec<String>,
    /// Per object, the highest counter an update was answered for.
    updated: HashMap<String, u64>,
}

fn named(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([("n".to_string(), "0".to_string())].into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_under_load_loses_no_acknowledged_write() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut server = Server::start(&dir.path().join("data"), &["--snapshot-every", "500"])?;
    let mut total_acked = 0usize;
    for round in 0..3 {
        let cms: Api<ConfigMap> = Api::namespaced(server.client()?, "default");
        let acked = Arc::new(Mutex::new(Acked::default()));
        let mut tasks = Vec::new();
        for w in 0..CREATORS + UPDATERS {
            let cms = cms.clone();
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                if w < CREATORS {
                    for n in 0.. {
                        let name = format!("r{round}-c{w}-{n}");
                        if cms
                            .create(&PostParams::default(), &named(&name))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        acked
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .created
                            .push(name);
                    }
                } else {
                    let name = format!("r{round}-u{w}");
                    if cms
                        .create(&PostParams::default(), &named(&name))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    acked
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .created
                        .push(name.clone());
                    for n in 1u64.. {
                        let patch = Patch::Merge(json!({"data": {"n": n.to_string()}}));
                        if cms
                            .patch(&name, &PatchParams::default(), &patch)
                            .await
                            .is_err()
                        {
                            return;
                        }
                        acked
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .updated
                            .insert(name.clone(), n);
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500 + 400 * round)).await;
        server.kill9()?;
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t).await??;
        }
        server.restart()?;

        let cms: Api<ConfigMap> = Api::namespaced(server.client()?, "default");
        let stored: HashMap<String, u64> = cms
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|c| {
                let n = c.data.as_ref()?.get("n")?.parse().ok()?;
                Some((c.metadata.name?, n))
            })
            .collect();
        let acked = std::mem::take(
            &mut *acked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if acked.created.len() < 20 {
            bail!(
                "round {round}: only {} creates were acknowledged before the kill; the load did not run",
                acked.created.len()
            );
        }
        for name in &acked.created {
            if !stored.contains_key(name) {
                bail!("round {round}: acknowledged create of {name} is lost");
            }
        }
        for (name, n) in &acked.updated {
            let have = stored.get(name).copied().unwrap_or(0);
            // The stored value is the last acknowledged one, or a later
            // update that was committed but not yet answered.
            if have < *n {
                bail!("round {round}: {name} has n={have} but n={n} was acknowledged");
            }
        }
        let updates: u64 = acked.updated.values().sum();
        println!(
            "round {round}: {} creates and {updates} updates acknowledged, all present after kill -9",
            acked.created.len()
        );
        total_acked += acked.created.len() + updates as usize;
    }
    assert!(
        total_acked > 100,
        "enough writes were checked: {total_acked}"
    );
    Ok(())
}

#[tokio::test]
async fn restart_keeps_every_object_across_snapshots() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // Snapshot (and compact the log) every 50 entries.
    let mut server = Server::start(&dir.path().join("data"), &["--snapshot-every", "50"])?;
    let cms: Api<ConfigMap> = Api::namespaced(server.client()?, "default");
    for i in 0..300 {
        cms.create(&PostParams::default(), &named(&format!("s{i}")))
            .await?;
    }
    let before = cms.list(&ListParams::default()).await?;
    server.restart()?;
    let cms: Api<ConfigMap> = Api::namespaced(server.client()?, "default");
    let after = cms.list(&ListParams::default()).await?;
    assert_eq!(after.items.len(), 300);
    let rv = |l: &kube::core::ObjectList<ConfigMap>| {
        l.metadata
            .resource_version
            .clone()
            .unwrap_or_default()
            .parse::<u64>()
            .unwrap_or(0)
    };
    assert!(rv(&after) >= rv(&before), "revisions never go back");
    let names = |l: &kube::core::ObjectList<ConfigMap>| {
        l.items
            .iter()
            .map(|c| (c.metadata.name.clone(), c.metadata.resource_version.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&before),
        names(&after),
        "same objects at the same revisions"
    );
    // Writes continue after the restart.
    cms.create(&PostParams::default(), &named("after")).await?;
    Ok(())
}
