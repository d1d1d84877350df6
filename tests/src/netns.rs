//! Network namespaces for multi-member cluster tests: one namespace per
//! member, a *cluster* link per member for traffic between members (which
//! tests can partition, isolate and heal while the processes keep running),
//! and a *client* link per member that the root namespace can always reach.
//!
//! Layout of one [`Network`] (slot `S`, member `i`, all built with `ip`):
//!
//! - Member namespace `keelS-mI` with `lo` up and two links:
//!   - `cluster`, address `10.(200+S).0.(1+i)/24`, whose peer `knScI` is a
//!     port of a bridge in the hub namespace;
//!   - `client`, address `10.(200+S).(1+i).2/30`, whose peer `knSpI` lives in
//!     the root namespace with address `10.(200+S).(1+i).1/30`. The member
//!     namespaces have no default route, so a member reaches another member
//!     only over the cluster subnet, never through the root namespace.
//! - Hub namespace `keelS-hub` holding the bridges `knSb0`, `knSb1`, ... (STP
//!   off, forward delay 0, so a port forwards as soon as it joins). Bridge 0
//!   carries every cluster port when the network is whole; a partition moves
//!   the ports of group `g` onto bridge `g`; isolating a member takes its
//!   port off every bridge. Ports stay up throughout, so there are no carrier
//!   changes, and traffic flows as soon as a port joins a bridge again
//!   (partitioning and healing also flush the members' ARP caches, so no
//!   address is left waiting on a resolution that failed during a cut).
//!
//! The bridges live in a namespace of their own rather than in the root
//! namespace so that the host's firewall never sees the bridged cluster
//! traffic: with `br_netfilter` loaded, `bridge-nf-call-iptables` sends bridged
//! frames through the iptables FORWARD chain of the bridge's namespace, and
//! hosts running Docker set that chain's policy to DROP. The hub namespace has
//! no rules at all, so nothing there is filtered, and the host's firewall
//! settings are left untouched. Only the client links touch the root
//! namespace; traffic on them is ordinary local traffic (OUTPUT/INPUT chains).
//!
//! Several networks may exist at once (parallel test processes): each claims a
//! slot `S` in `0..56` by holding an exclusive lock on
//! `/run/keel-netns/slot-S.lock` for its lifetime; every name and subnet is
//! derived from the slot. A slot whose lock is free may still hold leftovers of
//! a run that died without cleaning up; those are removed before the slot is
//! used. A slot whose subnet `10.(200+S).0.0/16` is routed by something else in
//! the root namespace is skipped.
//!
//! Everything needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// How many networks can exist at once on one machine: slot `S` uses the
/// subnet `10.(200+S).0.0/16`.
const SLOTS: u8 = 56;

/// The most members one network can have (the last octet of cluster
/// addresses and the third octet of client subnets).
const MAX_MEMBERS: usize = 254;

/// Where the slot locks live.
const LOCK_DIR: &str = "/run/keel-netns";

/// The cluster link's name inside a member namespace.
const MEMBER_CLUSTER_LINK: &str = "cluster";

/// The client link's name inside a member namespace.
const MEMBER_CLIENT_LINK: &str = "client";

/// Route types `ip route show table all` may print before a destination.
const ROUTE_TYPES: [&str; 10] = [
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "anycast",
    "unreachable",
    "blackhole",
    "prohibit",
    "throw",
    "nat",
];

/// A set of member network namespaces whose cluster links can be partitioned
/// and healed while the processes inside keep running. Dropping it deletes
/// every namespace and link it created.
pub struct Network {
    /// Names and addresses derived from the claimed slot.
    layout: Layout,
    /// How many members there are.
    members: usize,
    /// The member namespaces' names, by member index.
    namespaces: Vec<String>,
    /// The slot lock, held for as long as the network exists; released after
    /// `Drop::drop` has cleaned up.
    _slot_lock: File,
}

impl Network {
    /// Creates `members` namespaces (1 to 254), each with `lo` up, a cluster
    /// link on the shared cluster bridge and a client link to the root
    /// namespace.
    ///
    /// Fails with a message naming the failing `ip` command and its stderr if
    /// the machine cannot do it (not root, no iproute2), or if all slots are
    /// taken.
    pub fn create(members: usize) -> Result<Network> {
        check_member_count(members)?;
        fs::create_dir_all(LOCK_DIR)
            .with_context(|| format!("cannot create {LOCK_DIR} (network tests need root)"))?;
        let mut conflicts = Vec::new();
        for slot in 0..SLOTS {
            let Some(lock) = try_lock_slot(slot)? else {
                continue;
            };
            let layout = Layout { slot };
            match layout.prepare()? {
                Some(conflict) => conflicts.push(conflict),
                None => return Network::build(layout, lock, members),
            }
        }
        bail!(
            "no free network slot: all {SLOTS} slots are held by other tests{}",
            describe_conflicts(&conflicts)
        )
    }

    /// How many members the network has.
    pub fn members(&self) -> usize {
        self.members
    }

    /// The member's address on the cluster subnet, reachable from the other
    /// members while they are not cut off from it (for Raft listeners).
    ///
    /// # Panics
    /// If `member` is not below [`Network::members`].
    pub fn cluster_ip(&self, member: usize) -> Ipv4Addr {
        self.assert_member(member);
        self.layout.cluster_ip(member)
    }

    /// The member's address on its client link, always reachable from the
    /// root namespace (for the API listener).
    ///
    /// # Panics
    /// If `member` is not below [`Network::members`].
    pub fn client_ip(&self, member: usize) -> Ipv4Addr {
        self.assert_member(member);
        self.layout.client_member_ip(member)
    }

    /// The name of the member's network namespace (for `ip netns exec`).
    ///
    /// # Panics
    /// If `member` is not below [`Network::members`].
    pub fn namespace(&self, member: usize) -> &str {
        self.assert_member(member);
        &self.namespaces[member]
    }

    /// A command running `program` inside the member's namespace
    /// (`ip netns exec NAMESPACE program`); add arguments, environment and
    /// stdio as for any command. `ip netns exec` execs the program, so the
    /// spawned child's pid is the program's own and killing the child kills
    /// the program.
    ///
    /// # Panics
    /// If `member` is not below [`Network::members`].
    pub fn command(&self, member: usize, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", self.namespace(member)])
            .arg(program);
        command
    }

    /// Splits the cluster links into groups: a member reaches the cluster
    /// address of another member only if both are in the same group. Members
    /// named in no group form one extra group of their own, so
    /// `partition(&[&[0]])` cuts member 0 off from all the others. Each member
    /// may be named at most once and no group may be empty.
    ///
    /// Replaces any earlier partition or isolation: every cluster link is up
    /// afterwards. Client links are never affected.
    pub fn partition(&self, groups: &[&[usize]]) -> Result<()> {
        let group_of = group_of_each_member(self.members, groups)?;
        self.attach(&group_of)
    }

    /// Cuts the member off from every other member by taking its cluster port
    /// off every bridge; its client link stays up. Undone by
    /// [`Network::heal`] (or [`Network::partition`]).
    ///
    /// The port stays up: setting it down would drop the carrier of the
    /// member's end, and after a carrier change the kernel may take up to a
    /// second (link-watch rate limit) to pass traffic again, so healing would
    /// not be immediate.
    pub fn isolate(&self, member: usize) -> Result<()> {
        if member >= self.members {
            bail!(
                "cannot isolate member {member}: the network has {} members",
                self.members
            );
        }
        ip(&[
            "-n",
            &self.layout.hub_namespace(),
            "link",
            "set",
            &self.layout.cluster_port(member),
            "nomaster",
        ])?;
        Ok(())
    }

    /// Makes the network whole again: every cluster link up and on the
    /// shared bridge.
    pub fn heal(&self) -> Result<()> {
        self.attach(&vec![0; self.members])
    }

    /// Builds a network in a prepared slot; on failure the partial network is
    /// dropped, which removes whatever was already created.
    fn build(layout: Layout, slot_lock: File, members: usize) -> Result<Network> {
        let network = Network {
            namespaces: (0..members).map(|m| layout.member_namespace(m)).collect(),
            layout,
            members,
            _slot_lock: slot_lock,
        };
        network
            .set_up()
            .with_context(|| format!("cannot set up network slot {}", layout.slot))?;
        Ok(network)
    }

    /// Creates the hub, its bridges and every member.
    fn set_up(&self) -> Result<()> {
        ip(&["netns", "add", &self.layout.hub_namespace()])?;
        // A partition never has more groups than members.
        for group in 0..self.members {
            self.add_bridge(group)?;
        }
        for member in 0..self.members {
            self.add_member(member)?;
        }
        Ok(())
    }

    /// Creates bridge `group` in the hub: STP off and forward delay 0, so a
    /// port forwards frames as soon as it joins.
    fn add_bridge(&self, group: usize) -> Result<()> {
        let hub = self.layout.hub_namespace();
        let bridge = self.layout.bridge(group);
        ip(&[
            "-n",
            &hub,
            "link",
            "add",
            &bridge,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ])?;
        ip(&["-n", &hub, "link", "set", &bridge, "up"])?;
        Ok(())
    }

    /// Creates the member's namespace with `lo` up and both links.
    fn add_member(&self, member: usize) -> Result<()> {
        let namespace = &self.namespaces[member];
        ip(&["netns", "add", namespace])?;
        ip(&["-n", namespace, "link", "set", "lo", "up"])?;
        self.add_cluster_link(member)?;
        self.add_client_link(member)
    }

    /// Creates the member's cluster veth: its hub end on bridge 0, its member
    /// end addressed on the cluster subnet.
    fn add_cluster_link(&self, member: usize) -> Result<()> {
        let namespace = &self.namespaces[member];
        let hub = self.layout.hub_namespace();
        let port = self.layout.cluster_port(member);
        let address = format!("{}/24", self.layout.cluster_ip(member));
        ip(&[
            "-n",
            &hub,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            MEMBER_CLUSTER_LINK,
            "netns",
            namespace,
        ])?;
        ip(&[
            "-n",
            namespace,
            "addr",
            "add",
            &address,
            "dev",
            MEMBER_CLUSTER_LINK,
        ])?;
        ip(&["-n", namespace, "link", "set", MEMBER_CLUSTER_LINK, "up"])?;
        let bridge = self.layout.bridge(0);
        ip(&["-n", &hub, "link", "set", &port, "master", &bridge, "up"])?;
        Ok(())
    }

    /// Creates the member's client veth: a /30 between the root namespace and
    /// the member.
    fn add_client_link(&self, member: usize) -> Result<()> {
        let namespace = &self.namespaces[member];
        let root_end = self.layout.client_link(member);
        let root_address = format!("{}/30", self.layout.client_root_ip(member));
        let member_address = format!("{}/30", self.layout.client_member_ip(member));
        ip(&[
            "link",
            "add",
            &root_end,
            "type",
            "veth",
            "peer",
            "name",
            MEMBER_CLIENT_LINK,
            "netns",
            namespace,
        ])?;
        ip(&["addr", "add", &root_address, "dev", &root_end])?;
        ip(&["link", "set", &root_end, "up"])?;
        ip(&[
            "-n",
            namespace,
            "addr",
            "add",
            &member_address,
            "dev",
            MEMBER_CLIENT_LINK,
        ])?;
        ip(&["-n", namespace, "link", "set", MEMBER_CLIENT_LINK, "up"])?;
        Ok(())
    }

    /// Puts each member's cluster port, up, on the bridge of its group, then
    /// clears the members' neighbour (ARP) caches on their cluster links.
    ///
    /// Without the flush, an address a member tried to reach across a cut is
    /// left mid-resolution, and packets to it wait for the next ARP
    /// retransmission (up to a second) after the cut is gone.
    fn attach(&self, group_of: &[usize]) -> Result<()> {
        let hub = self.layout.hub_namespace();
        for (member, &group) in group_of.iter().enumerate() {
            let port = self.layout.cluster_port(member);
            let bridge = self.layout.bridge(group);
            ip(&["-n", &hub, "link", "set", &port, "master", &bridge, "up"])?;
        }
        for namespace in &self.namespaces {
            ip(&[
                "-n",
                namespace,
                "neigh",
                "flush",
                "dev",
                MEMBER_CLUSTER_LINK,
            ])?;
        }
        Ok(())
    }

    /// Panics with a clear message for a member index out of range.
    fn assert_member(&self, member: usize) {
        assert!(
            member < self.members,
            "member {member} does not exist: the network has {} members",
            self.members
        );
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Err(error) = self.layout.remove_leftovers() {
            eprintln!(
                "cannot fully remove network slot {}: {error:#}",
                self.layout.slot
            );
        }
    }
}

/// The names and addresses of one slot.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// The slot index, below [`SLOTS`].
    slot: u8,
}

impl Layout {
    /// The prefix of every namespace name of this slot.
    fn namespace_prefix(&self) -> String {
        format!("keel{}-", self.slot)
    }

    /// The member's namespace.
    fn member_namespace(&self, member: usize) -> String {
        format!("{}m{member}", self.namespace_prefix())
    }

    /// The namespace holding the bridges.
    fn hub_namespace(&self) -> String {
        format!("{}hub", self.namespace_prefix())
    }

    /// Bridge `group` in the hub.
    fn bridge(&self, group: usize) -> String {
        format!("kn{}b{group}", self.slot)
    }

    /// The hub end of the member's cluster link.
    fn cluster_port(&self, member: usize) -> String {
        format!("kn{}c{member}", self.slot)
    }

    /// The prefix of the root-namespace ends of client links.
    fn client_link_prefix(&self) -> String {
        format!("kn{}p", self.slot)
    }

    /// The root-namespace end of the member's client link.
    fn client_link(&self, member: usize) -> String {
        format!("{}{member}", self.client_link_prefix())
    }

    /// Whether a root-namespace link name is a client link of this slot.
    fn owns_root_link(&self, name: &str) -> bool {
        name.strip_prefix(&self.client_link_prefix())
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The second octet of every address of this slot.
    fn subnet_octet(&self) -> u8 {
        200 + self.slot
    }

    /// The member's cluster address.
    fn cluster_ip(&self, member: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet_octet(), 0, member_octet(member))
    }

    /// The root end's address on the member's client /30.
    fn client_root_ip(&self, member: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet_octet(), member_octet(member), 1)
    }

    /// The member end's address on its client /30.
    fn client_member_ip(&self, member: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet_octet(), member_octet(member), 2)
    }

    /// Readies a freshly locked slot: removes leftovers of an earlier run and
    /// reports a root-namespace route that makes the slot's subnet unusable.
    fn prepare(&self) -> Result<Option<String>> {
        self.remove_leftovers()?;
        Ok(self.conflicting_route()?.map(|route| {
            format!(
                "slot {}: 10.{}.0.0/16 is in use: {route}",
                self.slot,
                self.subnet_octet()
            )
        }))
    }

    /// Deletes every namespace and root-namespace link of this slot. Keeps
    /// going after a failure and reports all failures at the end.
    ///
    /// Client links are deleted explicitly (not only through their namespace)
    /// because a namespace outlives its name while a process still runs in it,
    /// and the kernel destroys a namespace's links asynchronously.
    fn remove_leftovers(&self) -> Result<()> {
        let prefix = self.namespace_prefix();
        let links = root_links()?
            .into_iter()
            .filter(|link| self.owns_root_link(link))
            .map(|link| vec!["link".to_owned(), "del".to_owned(), link]);
        let namespaces = namespaces()?
            .into_iter()
            .filter(|namespace| namespace.starts_with(&prefix))
            .map(|namespace| vec!["netns".to_owned(), "del".to_owned(), namespace]);
        let failures: Vec<String> = links
            .chain(namespaces)
            .filter_map(|command| {
                let args: Vec<&str> = command.iter().map(String::as_str).collect();
                ip_delete(&args).err().map(|error| format!("{error:#}"))
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("; "))
        }
    }

    /// A root-namespace route to somewhere inside this slot's /16 (after
    /// leftovers are removed, such a route belongs to someone else).
    fn conflicting_route(&self) -> Result<Option<String>> {
        let routes = ip(&["-4", "-o", "route", "show", "table", "all"])?;
        Ok(routes
            .lines()
            .find(|route| {
                route_destination(route).is_some_and(|(address, len)| {
                    len >= 16 && address.octets()[..2] == [10, self.subnet_octet()]
                })
            })
            .map(|route| route.trim().to_owned()))
    }
}

/// The octet numbering a member in its addresses.
fn member_octet(member: usize) -> u8 {
    u8::try_from(member + 1).unwrap_or(u8::MAX)
}

/// Rejects member counts the address plan cannot hold.
fn check_member_count(members: usize) -> Result<()> {
    if members == 0 || members > MAX_MEMBERS {
        bail!("a network has 1 to {MAX_MEMBERS} members, not {members}");
    }
    Ok(())
}

/// Takes the slot's lock if no one holds it.
fn try_lock_slot(slot: u8) -> Result<Option<File>> {
    let path = format!("{LOCK_DIR}/slot-{slot}.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {path} (network tests need root)"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {path}"))
        }
    }
}

/// Explains why slots with free locks were skipped, if any were.
fn describe_conflicts(conflicts: &[String]) -> String {
    if conflicts.is_empty() {
        String::new()
    } else {
        format!(" or unusable ({})", conflicts.join("; "))
    }
}

/// The group index of each member: the index of the group naming it, or
/// `groups.len()` (the extra group) if no group names it.
fn group_of_each_member(members: usize, groups: &[&[usize]]) -> Result<Vec<usize>> {
    let extra_group = groups.len();
    let mut group_of = vec![extra_group; members];
    for (group, names) in groups.iter().enumerate() {
        if names.is_empty() {
            bail!("partition group {group} is empty");
        }
        for &member in *names {
            if member >= members {
                bail!("partition names member {member}, but the network has {members} members");
            }
            if group_of[member] != extra_group {
                bail!(
                    "partition names member {member} in both group {} and group {group}",
                    group_of[member]
                );
            }
            group_of[member] = group;
        }
    }
    Ok(group_of)
}

/// Parses the destination of one line of `ip -4 -o route show`.
fn route_destination(route: &str) -> Option<(Ipv4Addr, u8)> {
    let mut words = route.split_whitespace();
    let mut destination = words.next()?;
    if ROUTE_TYPES.contains(&destination) {
        destination = words.next()?;
    }
    match destination.split_once('/') {
        Some((address, len)) => Some((address.parse().ok()?, len.parse().ok()?)),
        None => Some((destination.parse().ok()?, 32)),
    }
}

/// The names of the root namespace's links.
fn root_links() -> Result<Vec<String>> {
    let listing = ip(&["-o", "link", "show"])?;
    Ok(listing.lines().filter_map(link_name).collect())
}

/// The link name in one line of `ip -o link show` (`7: name@peer: <...`).
fn link_name(line: &str) -> Option<String> {
    let (_, rest) = line.split_once(": ")?;
    let (name, _) = rest.split_once(':')?;
    let name = name.split_once('@').map_or(name, |(name, _)| name);
    Some(name.to_owned())
}

/// The names of all named network namespaces.
fn namespaces() -> Result<Vec<String>> {
    let listing = ip(&["netns", "list"])?;
    Ok(listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// Runs a deleting `ip` command; something already gone counts as deleted.
fn ip_delete(args: &[&str]) -> Result<()> {
    match ip(args) {
        Ok(_) => Ok(()),
        Err(error) => {
            let message = format!("{error:#}");
            if message.contains("Cannot find device") || message.contains("No such file") {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

/// Runs `ip` with the arguments and returns its stdout; the error names the
/// command and carries its stderr.
fn ip(args: &[&str]) -> Result<String> {
    let rendered = format!("ip {}", args.join(" "));
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{rendered}` (is iproute2 installed and on PATH?)"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        let hint = if stderr.contains("Operation not permitted") {
            " (network namespaces need root: CAP_SYS_ADMIN and CAP_NET_ADMIN)"
        } else {
            ""
        };
        bail!("`{rendered}` failed ({}): {stderr}{hint}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    //! The pure parts are tested directly; the namespace tests need root and
    //! iproute2 and fail (never skip) without them. Traffic inside a member
    //! namespace comes from this test binary itself, re-run through
    //! `ip netns exec` as the `namespace_probe` test with a request in
    //! `KEEL_NETNS_PROBE`.

    use std::io::{BufRead, BufReader};
    use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream};
    use std::process::Child;
    use std::thread;
    use std::time::Duration;

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
}
