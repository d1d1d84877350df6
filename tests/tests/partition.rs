//! Partitions: members in network namespaces, the leader cut off with a
//! minority. The minority commits nothing and answers no read as if it were
//! current; the majority elects a leader and keeps serving; after the network
//! heals the old leader's uncommitted entries are gone, every member holds the
//! same data, and the history recorded throughout is linearizable.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, bail, ensure};
use keel_tests::cluster::{Cluster, Member, Placement};
use keel_tests::linearizability::Verdict;
use keel_tests::netns::Network;
use keel_tests::workload::{Load, NAMESPACE, Shape};

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn create(member: &Member, name: &str) -> Result<(u16, String)> {
    let body = serde_json::json!({"metadata": {"name": name}});
    member.request("POST", CONFIGMAPS, body.to_string().as_bytes())
}

/// A create retried on a 503 (whose `Retry-After` asks for it) as client-go does; a retry
/// that finds the object there means an earlier attempt committed.
fn create_retrying(member: &Member, name: &str) -> Result<(u16, String)> {
    let mut answer = create(member, name)?;
    for _ in 0..5 {
        if answer.0 != 503 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        answer = create(member, name)?;
        if answer.0 == 409 {
            return Ok((201, answer.1));
        }
    }
    Ok(answer)
}

/// Cuts the leader and `minority - 1` followers off from the rest of a `size`-member cluster.
fn leader_cut_off_with_a_minority(size: usize, minority: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let net = Network::create(size)?;
    let placements = (0..size)
        .map(|i| Placement::in_namespace(&net, i))
        .collect();
    let cluster = Cluster::start_at(dir.path(), placements, &[])?;
    let targets = Arc::new(Mutex::new(
        cluster.members.iter().map(|m| m.placement.api).collect(),
    ));
    let load = Load::start(targets, Shape::default());
    std::thread::sleep(Duration::from_secs(2));

    let old = cluster.leader(Duration::from_secs(20))?;
    let small: Vec<usize> = (0..size)
        .filter(|i| *i != old)
        .take(minority - 1)
        .chain([old])
        .collect();
    let large: Vec<usize> = (0..size).filter(|i| !small.contains(i)).collect();
    // The majority stays on the bridge it was on; only the minority's links move.
    net.partition(&[&large, &small])?;

    // The majority elects a leader of its own and keeps taking writes.
    let new = cluster.leader_among(&large, Duration::from_secs(20))?;
    for n in 0..5 {
        let member = &cluster.members[large[n % large.len()]];
        let (code, text) = create_retrying(member, &format!("majority-{n}"))?;
        ensure!(code == 201, "the majority refused a write: {code} {text}");
    }
    // The minority commits nothing, and a linearizable read there does not answer from
    // its stale copy (the majority's object would be reported missing).
    let mut minority_writes = Vec::new();
    for (n, i) in small.iter().enumerate() {
        let name = format!("minority-{n}");
        let code = create(&cluster.members[*i], &name).map_or(0, |answer| answer.0);
        ensure!(
            code != 201 && code != 409,
            "member {} in the minority acknowledged {name}: {code}",
            cluster.members[*i].id
        );
        minority_writes.push(name);
        let read = cluster.members[*i].get(&format!("{CONFIGMAPS}/majority-0"));
        if let Ok((code, _)) = read {
            ensure!(
                code != 200 && code != 404,
                "member {} in the minority answered a linearizable read: {code}",
                cluster.members[*i].id
            );
        }
    }

    net.heal()?;
    let healed = cluster.leader(Duration::from_secs(30))?;
    ensure!(
        large.contains(&healed) || healed == new,
        "after healing, member {} leads",
        cluster.members[healed].id
    );
    std::thread::sleep(Duration::from_secs(2));
    let (tally, acknowledged, history) = load.stop();
    cluster.converge(Duration::from_secs(60))?;
    let reference = cluster.members[healed].local_configmaps(NAMESPACE)?;
    for member in &cluster.members {
        let names = member.local_configmaps(NAMESPACE)?;
        ensure!(names == reference, "member {} diverged", member.id);
        for gone in &minority_writes {
            ensure!(
                names.binary_search(gone).is_err(),
                "member {} holds {gone}, written only to the cut-off minority",
                member.id
            );
        }
        for n in 0..5 {
            ensure!(names.binary_search(&format!("majority-{n}")).is_ok());
        }
        let lost = acknowledged
            .iter()
            .filter(|a| names.binary_search(a).is_err())
            .count();
        ensure!(
            lost == 0,
            "member {} lost {lost} acknowledged writes",
            member.id
        );
    }
    ensure!(tally.definite > 100, "{tally:?}");
    match history.check(Duration::from_secs(120)) {
        Verdict::Linearizable { .. } => Ok(()),
        verdict => bail!("{verdict}"),
    }
}

#[test]
fn a_leader_cut_off_alone_from_three_commits_nothing() -> Result<()> {
    leader_cut_off_with_a_minority(3, 1)
}

#[test]
fn a_leader_cut_off_with_one_follower_from_five_commits_nothing() -> Result<()> {
    leader_cut_off_with_a_minority(5, 2)
}
