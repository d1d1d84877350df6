//! A highly available control plane: real `keel server` members on loopback
//! under a concurrent load, with leaders killed, members restarted one by one,
//! wiped, added and removed. After each, every acknowledged write is on every
//! member, the members hold the same data, and the recorded history of
//! creates, conditional updates and reads is linearizable.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use keel_tests::cluster::{Cluster, Placement};
use keel_tests::keel_binary;
use keel_tests::linearizability::Verdict;
use keel_tests::workload::{Load, NAMESPACE, Shape, Tally, Targets};

fn targets(cluster: &Cluster) -> Targets {
    Arc::new(Mutex::new(
        cluster.members.iter().map(|m| m.placement.api).collect(),
    ))
}

/// Ends a load and checks what every test checks: the history is linearizable, and every
/// acknowledged create is on every running member, which all hold the same ConfigMaps.
fn settle(cluster: &Cluster, load: Load) -> Result<Tally> {
    let (tally, acknowledged, history) = load.stop();
    cluster.converge(Duration::from_secs(60))?;
    let mut copies = Vec::new();
    for member in cluster.members.iter().filter(|m| m.is_running()) {
        let names = member.local_configmaps(NAMESPACE)?;
        let missing: Vec<&String> = acknowledged
            .iter()
            .filter(|a| names.binary_search(a).is_err())
            .collect();
        ensure!(
            missing.is_empty(),
            "member {} lost {} acknowledged writes: {:?}",
            member.id,
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        copies.push((member.id, names));
    }
    for (id, names) in &copies[1..] {
        ensure!(
            *names == copies[0].1,
            "member {id} holds other ConfigMaps than member {}",
            copies[0].0
        );
    }
    match history.check(Duration::from_secs(120)) {
        Verdict::Linearizable { .. } => Ok(tally),
        verdict => bail!("{verdict}"),
    }
}

#[test]
fn killing_the_leader_every_few_seconds_loses_no_acknowledged_write() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut cluster = Cluster::start(dir.path(), 3, &["--snapshot-every", "300"])?;
    let load = Load::start(targets(&cluster), Shape::default());
    let start = Instant::now();
    let mut kills = 0;
    while start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(4));
        let leader = cluster.leader(Duration::from_secs(20))?;
        cluster.members[leader].kill9()?;
        kills += 1;
        std::thread::sleep(Duration::from_millis(1500));
        cluster.members[leader].restart()?;
    }
    let tally = settle(&cluster, load)?;
    assert!(kills >= 10, "the leader was killed {kills} times");
    assert!(
        tally.definite > 1000 && tally.acknowledged > 100,
        "the load did too little to mean anything: {tally:?}"
    );
    Ok(())
}

#[test]
fn a_rolling_restart_fails_no_request_a_retrying_client_sends() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut cluster = Cluster::start(dir.path(), 3, &[])?;
    let targets = targets(&cluster);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|client| {
            let targets = targets.clone();
            let stop = stop.clone();
            std::thread::spawn(move || retrying_writer(client, &targets, &stop))
        })
        .collect();
    for i in 0..cluster.members.len() {
        std::thread::sleep(Duration::from_secs(2));
        cluster.members[i].stop()?;
        std::thread::sleep(Duration::from_secs(1));
        cluster.members[i].restart()?;
        cluster.converge(Duration::from_secs(30))?;
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut written = Vec::new();
    for writer in writers {
        let names = writer
            .join()
            .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
        written.extend(names);
    }
    assert!(written.len() > 200, "only {} writes", written.len());
    cluster.converge(Duration::from_secs(30))?;
    for member in &cluster.members {
        let names = member.local_configmaps(NAMESPACE)?;
        let missing = written
            .iter()
            .filter(|n| names.binary_search(n).is_err())
            .count();
        assert_eq!(missing, 0, "member {} misses writes", member.id);
    }
    Ok(())
}

/// Creates ConfigMaps one after another, retrying a create that got no answer or a 5xx
/// (as client libraries do) up to ten times on any member; fails if one never succeeds.
fn retrying_writer(
    client: usize,
    targets: &Targets,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    let mut n = 0usize;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        n += 1;
        let name = format!("roll-{client}-{n}");
        let body = serde_json::json!({"metadata": {"name": name}});
        let mut attempt = 0;
        loop {
            let addrs = targets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let target = addrs[(n + attempt) % addrs.len()];
            let answer = keel_tests::http_to(
                target,
                "POST",
                &format!("/api/v1/namespaces/{NAMESPACE}/configmaps"),
                &[],
                body.to_string().as_bytes(),
                Duration::from_secs(10),
            );
            match answer {
                Ok((201, _, _)) => break,
                // An earlier attempt committed before its answer was lost.
                Ok((409, _, text)) if attempt > 0 && text.contains("AlreadyExists") => break,
                Ok((code, _, text)) if code < 500 => {
                    bail!("creating {name} was refused: {code} {text}")
                }
                _ if attempt < 10 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => bail!("creating {name} failed after {attempt} retries: {other:?}"),
            }
        }
        written.push(name);
    }
    written.sort();
    Ok(written)
}

fn member_cli(peer: SocketAddr, args: &[&str]) -> Result<String> {
    let out = Command::new(keel_binary()?)
        .arg("member")
        .arg("--peer")
        .arg(peer.to_string())
        .args(args)
        .output()?;
    keel_tests::stdout_ok(&out)
}

#[test]
fn the_cluster_grows_from_three_to_five_members_and_back_under_load() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut cluster = Cluster::start(dir.path(), 3, &[])?;
    let targets = targets(&cluster);
    let load = Load::start(targets.clone(), Shape::default());
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..2 {
        let added = cluster.join(Placement::loopback()?, 0, &[])?;
        targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cluster.members[added].placement.api);
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut voters = cluster.voters(0)?;
    voters.sort();
    assert_eq!(voters, [1, 2, 3, 4, 5]);
    let listed = member_cli(cluster.members[4].placement.admin, &["ls"])?;
    assert_eq!(listed.matches("voter").count(), 5, "{listed}");

    // Back to three: the newest members leave, one step at a time.
    for id in [5u64, 4] {
        let api = cluster.members[id as usize - 1].placement.api;
        targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|a| *a != api);
        let answer = member_cli(
            cluster.members[0].placement.admin,
            &["remove", &id.to_string()],
        )?;
        assert!(!answer.contains(&format!("\n{id} ")), "{answer}");
        cluster.members[id as usize - 1].kill9()?;
    }
    let mut voters = cluster.voters(1)?;
    voters.sort();
    assert_eq!(voters, [1, 2, 3]);
    std::thread::sleep(Duration::from_secs(2));
    let tally = settle(&cluster, load)?;
    assert!(tally.definite > 200, "{tally:?}");
    Ok(())
}

#[test]
fn a_member_whose_disk_was_wiped_rejoins_by_snapshot() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut cluster = Cluster::start(dir.path(), 3, &["--snapshot-every", "100"])?;
    let leader = cluster.leader(Duration::from_secs(20))?;
    let wiped = (leader + 1) % 3;
    // More entries than the log keeps behind a snapshot (1,000): the members purge the
    // head of their logs, so a member that lost its disk can only come back by snapshot.
    for n in 0..1_300 {
        let body = serde_json::json!({"metadata": {"name": format!("w-{n}")}});
        let (code, text) = cluster.members[leader].request(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            body.to_string().as_bytes(),
        )?;
        ensure!(code == 201, "{code} {text}");
    }
    let purged = cluster.members[leader].status()?["purged"].as_u64();
    assert!(
        purged.is_some_and(|p| p > 0),
        "the leader purged nothing: {purged:?}"
    );
    let seed = cluster.members[leader].placement.peer;
    cluster.members[wiped].wipe_and_rejoin(seed)?;
    let snapshot = cluster.members[wiped].status()?["snapshot"].as_u64();
    assert!(
        snapshot.is_some_and(|s| s >= purged.unwrap_or(0)),
        "the rejoined member has no snapshot past the purged log: {snapshot:?}"
    );
    cluster.converge(Duration::from_secs(60))?;
    let names = cluster.members[wiped].local_configmaps("default")?;
    let expected = cluster.members[leader].local_configmaps("default")?;
    assert_eq!(names.len(), expected.len());
    assert_eq!(names, expected);
    let mut voters = cluster.voters(leader)?;
    voters.sort();
    assert_eq!(voters, [1, 2, 3], "the rejoined member votes again");
    // It serves writes and reads like the others.
    let (code, text) = cluster.members[wiped].request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        br#"{"metadata":{"name":"after-rejoin"}}"#,
    )?;
    ensure!(code == 201, "{code} {text}");
    let (code, _) =
        cluster.members[leader].get("/api/v1/namespaces/default/configmaps/after-rejoin")?;
    assert_eq!(code, 200);
    Ok(())
}

#[test]
fn every_member_serves_reads_writes_and_watches() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cluster = Cluster::start(dir.path(), 3, &[])?;
    let leader = cluster.leader(Duration::from_secs(20))?;
    for (i, member) in cluster.members.iter().enumerate() {
        let body = serde_json::json!({"metadata": {"name": format!("from-{i}")}});
        let (code, text) = member.request(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            body.to_string().as_bytes(),
        )?;
        ensure!(code == 201, "member {i} (leader {leader}): {code} {text}");
        // A read right after the write, on every member, sees it (linearizable reads).
        for other in &cluster.members {
            let (code, _) =
                other.get(&format!("/api/v1/namespaces/default/configmaps/from-{i}"))?;
            assert_eq!(code, 200, "member {} does not see from-{i}", other.id);
        }
    }
    // A watch on a follower sees a write made through another member, in order.
    let follower = (leader + 1) % 3;
    let (code, list) = cluster.members[follower].get("/api/v1/namespaces/default/configmaps")?;
    ensure!(code == 200, "{list}");
    let rv = serde_json::from_str::<serde_json::Value>(&list)?["metadata"]["resourceVersion"]
        .as_str()
        .context("a list without resourceVersion")?
        .to_string();
    let writer = &cluster.members[(leader + 2) % 3];
    for n in 0..3 {
        let body = serde_json::json!({"metadata": {"name": format!("watched-{n}")}});
        let (code, _) = writer.request(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            body.to_string().as_bytes(),
        )?;
        ensure!(code == 201);
    }
    let (code, events) = cluster.members[follower].get(&format!(
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1"
    ))?;
    ensure!(code == 200, "{events}");
    let names: Vec<String> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["object"]["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, ["watched-0", "watched-1", "watched-2"]);
    Ok(())
}
