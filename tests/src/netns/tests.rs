//! The pure parts are tested directly; the namespace tests need root and
//! iproute2 and fail (never skip) without them. Traffic inside a member
//! namespace comes from this test binary itself, re-run through
//! `ip netns exec` as the `namespace_probe` test with a request in
//! `KEEL_NETNS_PROBE`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::thread;
use std::time::Duration;

use super::ip::link_name;
use super::*;

/// The environment variable carrying a probe request.
const PROBE_ENV: &str = "KEEL_NETNS_PROBE";
/// Printed by a listening probe once every address is bound.
const LISTENING: &str = "keel-netns-probe: listening";
/// Printed by a connecting probe that connected.
const CONNECTED: &str = "keel-netns-probe: connected";
/// Printed (with the error kind) by a connecting probe that failed.
const FAILED: &str = "keel-netns-probe: failed:";
/// The port probes listen on, in every namespace.
const PORT: u16 = 7000;
/// How long a connection attempt across a cut waits before it counts as
/// getting no answer.
const CUT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a connection attempt between joined members may take: below
/// TCP's initial one-second SYN retransmission, so a connection whose
/// first SYN was lost (links not yet passing traffic) fails.
const JOINED_TIMEOUT: Duration = Duration::from_millis(500);

/// What a connection attempt came to.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The connection was accepted.
    Connected,
    /// It failed with this error kind.
    Failed(String),
}

impl Outcome {
    /// Whether the failure is the kind a cut link causes (no answer at
    /// all), as opposed to a refused connection.
    fn is_cut(&self) -> bool {
        matches!(self, Outcome::Failed(kind) if kind == "TimedOut"
            || kind == "HostUnreachable"
            || kind == "NetworkUnreachable")
    }
}

/// A probe listening inside a namespace; killed when dropped.
struct Listener(Child);

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This module's `namespace_probe` test as libtest names it.
fn probe_test_name() -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::namespace_probe")
}

/// A command re-running this test binary as a probe in the member's
/// namespace.
fn probe_command(network: &Network, member: usize, request: &str) -> Result<Command> {
    let mut command = network.command(member, std::env::current_exe()?);
    command
        .args([
            &probe_test_name(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_ENV, request)
        .stdin(Stdio::null());
    Ok(command)
}

/// Starts a probe in the member's namespace listening on its cluster and
/// client addresses; returns once both are bound.
fn listen_in(network: &Network, member: usize) -> Result<Listener> {
    let request = format!(
        "listen {} {}",
        SocketAddrV4::new(network.cluster_ip(member), PORT),
        SocketAddrV4::new(network.client_ip(member), PORT)
    );
    let mut child = probe_command(network, member, &request)?
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("probe has no stdout")?;
    let listener = Listener(child);
    for line in BufReader::new(stdout).lines() {
        // libtest prints `test NAME ... ` without a newline first.
        if line?.ends_with(LISTENING) {
            return Ok(listener);
        }
    }
    bail!("the probe in member {member} exited before listening")
}

/// Tries to connect from inside the member's namespace.
fn connect_from(
    network: &Network,
    member: usize,
    to: Ipv4Addr,
    timeout: Duration,
) -> Result<Outcome> {
    let request = format!(
        "connect {} {}",
        SocketAddrV4::new(to, PORT),
        timeout.as_millis()
    );
    let output = probe_command(network, member, &request)?.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        // libtest prints `test NAME ... ` without a newline first.
        if line.ends_with(CONNECTED) {
            return Ok(Outcome::Connected);
        }
        if let Some((_, kind)) = line.split_once(FAILED) {
            return Ok(Outcome::Failed(kind.trim().to_owned()));
        }
    }
    bail!(
        "the probe in member {member} gave no outcome ({}): {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Tries to connect from the root namespace.
fn connect_from_root(to: Ipv4Addr) -> Outcome {
    connect(SocketAddr::V4(SocketAddrV4::new(to, PORT)), JOINED_TIMEOUT)
}

/// One connection attempt.
fn connect(to: SocketAddr, timeout: Duration) -> Outcome {
    match TcpStream::connect_timeout(&to, timeout) {
        Ok(_) => Outcome::Connected,
        Err(error) => Outcome::Failed(format!("{:?}", error.kind())),
    }
}

/// Binds every address in a probe request's address list.
fn bind_all(addresses: &str) -> Result<Vec<TcpListener>> {
    addresses
        .split_whitespace()
        .map(|address| {
            TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))
        })
        .collect()
}

/// Accepts (and drops) connections on every listener, forever.
fn serve(listeners: Vec<TcpListener>) -> Result<()> {
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            thread::spawn(move || {
                for stream in listener.incoming() {
                    drop(stream);
                }
            })
        })
        .collect();
    for thread in threads {
        if thread.join().is_err() {
            bail!("a probe listener thread panicked");
        }
    }
    Ok(())
}

/// Serves one probe request: `listen ADDRESS...` or
/// `connect ADDRESS TIMEOUT_MILLIS`.
fn run_probe(request: &str) -> Result<()> {
    match request.split_once(' ') {
        Some(("listen", addresses)) => {
            let listeners = bind_all(addresses)?;
            println!("{LISTENING}");
            serve(listeners)
        }
        Some(("connect", target)) => {
            let (address, millis) = target
                .split_once(' ')
                .context("a connect request needs an address and a timeout")?;
            let timeout = Duration::from_millis(millis.trim().parse()?);
            match connect(address.parse()?, timeout) {
                Outcome::Connected => println!("{CONNECTED}"),
                Outcome::Failed(kind) => println!("{FAILED} {kind}"),
            }
            Ok(())
        }
        _ => bail!("unknown probe request {request:?}"),
    }
}

/// Asserts that the root namespace reaches every member's client address.
fn assert_clients_reachable(network: &Network) {
    for member in 0..network.members() {
        assert_eq!(
            connect_from_root(network.client_ip(member)),
            Outcome::Connected,
            "root namespace -> client address of member {member}"
        );
    }
}

/// Asserts that `from` reaches the cluster address of `to`.
fn assert_joined(network: &Network, from: usize, to: usize) -> Result<()> {
    let outcome = connect_from(network, from, network.cluster_ip(to), JOINED_TIMEOUT)?;
    assert_eq!(outcome, Outcome::Connected, "member {from} -> member {to}");
    Ok(())
}

/// Asserts that `from` gets no answer from the cluster address of `to`.
fn assert_cut(network: &Network, from: usize, to: usize) -> Result<()> {
    let outcome = connect_from(network, from, network.cluster_ip(to), CUT_TIMEOUT)?;
    assert!(
        outcome.is_cut(),
        "member {from} -> member {to}: {outcome:?}"
    );
    Ok(())
}

/// Starts a listening probe in every member.
fn listen_everywhere(network: &Network) -> Result<Vec<Listener>> {
    (0..network.members())
        .map(|member| listen_in(network, member))
        .collect()
}

/// Whether anything of the slot is left in the root namespace's view.
fn slot_remnants(layout: &Layout) -> Result<Vec<String>> {
    let prefix = layout.namespace_prefix();
    let mut remnants: Vec<String> = namespaces()?
        .into_iter()
        .filter(|namespace| namespace.starts_with(&prefix))
        .collect();
    remnants.extend(
        root_links()?
            .into_iter()
            .filter(|link| layout.owns_root_link(link)),
    );
    Ok(remnants)
}

/// Locks some free slot for a test that plants things in it.
fn lock_some_slot() -> Result<(Layout, File)> {
    fs::create_dir_all(LOCK_DIR)?;
    for slot in (0..SLOTS).rev() {
        if let Some(lock) = try_lock_slot(slot)? {
            return Ok((Layout { slot }, lock));
        }
    }
    bail!("no free slot")
}

/// A root-namespace veth (its peer gets a kernel-chosen name) with an
/// address, deleted with its peer when dropped.
struct StrayLink(String);

impl StrayLink {
    /// Creates the link, addressed and up.
    fn create(name: &str, address: &str) -> Result<StrayLink> {
        ip(&["link", "add", name, "type", "veth"])?;
        let stray = StrayLink(name.to_owned());
        ip(&["addr", "add", address, "dev", name])?;
        ip(&["link", "set", name, "up"])?;
        Ok(stray)
    }
}

impl Drop for StrayLink {
    fn drop(&mut self) {
        let _ = ip_delete(&["link", "del", &self.0]);
    }
}

/// In a normal run, checks the probe's own listen and connect paths on
/// loopback; re-run inside a namespace with `KEEL_NETNS_PROBE` set, it
/// serves that request instead.
#[test]
fn namespace_probe() -> Result<()> {
    if let Ok(request) = std::env::var(PROBE_ENV) {
        return run_probe(&request);
    }
    let listeners = bind_all("127.0.0.1:0")?;
    let address = listeners[0].local_addr()?;
    assert_eq!(connect(address, JOINED_TIMEOUT), Outcome::Connected);
    drop(listeners);
    assert_eq!(
        connect(address, JOINED_TIMEOUT),
        Outcome::Failed("ConnectionRefused".into())
    );
    Ok(())
}

#[test]
fn unnamed_members_form_an_extra_group() -> Result<()> {
    assert_eq!(group_of_each_member(4, &[&[2], &[0]])?, vec![1, 2, 0, 2]);
    Ok(())
}

#[test]
fn naming_every_member_leaves_no_extra_group() -> Result<()> {
    assert_eq!(group_of_each_member(3, &[&[0], &[1, 2]])?, vec![0, 1, 1]);
    Ok(())
}

#[test]
fn bad_partitions_are_rejected() {
    let duplicate = group_of_each_member(3, &[&[0, 1], &[1]]);
    assert!(duplicate.is_err_and(|e| e.to_string().contains("member 1 in both")));
    let out_of_range = group_of_each_member(3, &[&[3]]);
    assert!(out_of_range.is_err_and(|e| e.to_string().contains("member 3")));
    let empty = group_of_each_member(3, &[&[0], &[]]);
    assert!(empty.is_err_and(|e| e.to_string().contains("group 1 is empty")));
}

#[test]
fn names_fit_interface_limits_and_do_not_overlap_between_slots() {
    let last = Layout { slot: SLOTS - 1 };
    let widest = [
        last.bridge(MAX_MEMBERS - 1),
        last.cluster_port(MAX_MEMBERS - 1),
        last.client_link(MAX_MEMBERS - 1),
    ];
    for name in widest {
        assert!(name.len() <= 15, "{name} is longer than IFNAMSIZ allows");
    }
    assert_eq!(
        last.cluster_ip(MAX_MEMBERS - 1),
        Ipv4Addr::new(10, 255, 0, 254)
    );
    assert_eq!(
        last.client_member_ip(MAX_MEMBERS - 1),
        Ipv4Addr::new(10, 255, 254, 2)
    );
    let slot_1 = Layout { slot: 1 };
    let slot_11 = Layout { slot: 11 };
    assert!(slot_1.owns_root_link("kn1p0"));
    assert!(!slot_1.owns_root_link("kn11p0"));
    assert!(!slot_11.owns_root_link("kn1p10"));
    assert!(!slot_1.owns_root_link("kn1p"));
    assert!(
        !slot_11
            .member_namespace(0)
            .starts_with(&slot_1.namespace_prefix())
    );
}

#[test]
fn listings_are_parsed() {
    assert_eq!(
        link_name("12: kn3p0@if11: <BROADCAST,MULTICAST,UP> mtu 1500").as_deref(),
        Some("kn3p0")
    );
    assert_eq!(
        link_name("1: lo: <LOOPBACK,UP> mtu 65536").as_deref(),
        Some("lo")
    );
    assert_eq!(
        route_destination("local 10.203.1.1 dev kn3p0 table local proto kernel"),
        Some((Ipv4Addr::new(10, 203, 1, 1), 32))
    );
    assert_eq!(
        route_destination("10.203.1.0/30 dev kn3p0 proto kernel scope link"),
        Some((Ipv4Addr::new(10, 203, 1, 0), 30))
    );
    assert_eq!(route_destination("default via 192.0.2.1 dev eth0"), None);
}

#[test]
fn bad_member_counts_are_rejected() {
    assert!(Network::create(0).is_err());
    assert!(Network::create(MAX_MEMBERS + 1).is_err());
}

#[test]
fn partition_cuts_cluster_links_and_heal_restores_them() -> Result<()> {
    let network = Network::create(3)?;
    let _listeners = listen_everywhere(&network)?;
    assert_joined(&network, 1, 0)?;
    assert_joined(&network, 0, 2)?;
    assert_clients_reachable(&network);

    network.partition(&[&[0], &[1, 2]])?;
    assert_cut(&network, 1, 0)?;
    assert_cut(&network, 0, 2)?;
    assert_joined(&network, 1, 2)?;
    assert_clients_reachable(&network);

    network.heal()?;
    assert_joined(&network, 1, 0)?;
    assert_joined(&network, 0, 2)?;
    assert_joined(&network, 2, 1)?;
    assert_clients_reachable(&network);
    Ok(())
}

#[test]
fn members_cannot_reach_each_other_through_client_links() -> Result<()> {
    let network = Network::create(2)?;
    let _listeners = listen_everywhere(&network)?;
    let outcome = connect_from(&network, 1, network.client_ip(0), CUT_TIMEOUT)?;
    assert!(
        outcome.is_cut(),
        "member 1 -> client address of member 0: {outcome:?}"
    );
    Ok(())
}

#[test]
fn isolate_cuts_one_member_and_heal_restores_it() -> Result<()> {
    let network = Network::create(3)?;
    let _listeners = listen_everywhere(&network)?;
    network.isolate(2)?;
    assert_cut(&network, 0, 2)?;
    assert_cut(&network, 2, 1)?;
    assert_joined(&network, 0, 1)?;
    assert_clients_reachable(&network);

    network.heal()?;
    assert_joined(&network, 0, 2)?;
    assert_joined(&network, 2, 1)?;
    assert_clients_reachable(&network);
    assert!(network.isolate(3).is_err());
    Ok(())
}

#[test]
fn concurrent_networks_get_distinct_slots_and_both_work() -> Result<()> {
    let first = Network::create(2)?;
    let second = Network::create(2)?;
    assert_ne!(first.layout.slot, second.layout.slot);
    assert_ne!(first.namespace(0), second.namespace(0));
    assert_ne!(first.cluster_ip(0), second.cluster_ip(0));
    assert_ne!(first.client_ip(0), second.client_ip(0));
    let _first_listeners = listen_everywhere(&first)?;
    let _second_listeners = listen_everywhere(&second)?;
    assert_joined(&first, 1, 0)?;
    assert_joined(&second, 1, 0)?;
    assert_clients_reachable(&first);
    assert_clients_reachable(&second);
    // The two cluster subnets are not joined.
    let outcome = connect_from(&first, 1, second.cluster_ip(0), CUT_TIMEOUT)?;
    assert!(
        outcome.is_cut(),
        "first network -> second network: {outcome:?}"
    );
    Ok(())
}

#[test]
fn drop_removes_every_namespace_and_link() -> Result<()> {
    let network = Network::create(2)?;
    let layout = network.layout;
    let before = slot_remnants(&layout)?;
    // Two members, the hub, and two client links.
    assert_eq!(before.len(), 5, "{before:?}");
    drop(network);
    // Hold the slot so no other test reuses its names while we look.
    let lock = File::open(format!("{LOCK_DIR}/slot-{}.lock", layout.slot))?;
    lock.lock()?;
    let after = slot_remnants(&layout)?;
    assert!(after.is_empty(), "left behind: {after:?}");
    Ok(())
}

#[test]
fn leftovers_of_a_crashed_run_are_removed_before_reuse() -> Result<()> {
    let (layout, lock) = lock_some_slot()?;
    // What a killed run leaves: names still registered, a client link
    // still addressed.
    ip(&["netns", "add", &layout.member_namespace(0)])?;
    ip(&["netns", "add", &layout.hub_namespace()])?;
    let stale_link = StrayLink::create(
        &layout.client_link(0),
        &format!("{}/30", layout.client_root_ip(0)),
    )?;
    assert_eq!(slot_remnants(&layout)?.len(), 3);
    assert_eq!(layout.prepare()?, None);
    drop(stale_link);
    let network = Network::build(layout, lock, 2)?;
    let _listeners = listen_everywhere(&network)?;
    assert_joined(&network, 0, 1)?;
    assert_clients_reachable(&network);
    Ok(())
}

#[test]
fn a_slot_whose_subnet_is_routed_elsewhere_is_reported() -> Result<()> {
    let (layout, _lock) = lock_some_slot()?;
    assert_eq!(layout.prepare()?, None);
    let address = format!("10.{}.250.1/24", layout.subnet_octet());
    let _foreign = StrayLink::create(&format!("kx{}", layout.slot), &address)?;
    let conflict = layout.prepare()?;
    assert!(
        conflict
            .as_deref()
            .is_some_and(|c| c.contains(&format!("kx{}", layout.slot))),
        "{conflict:?}"
    );
    Ok(())
}
