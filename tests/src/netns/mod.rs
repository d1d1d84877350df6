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

pub(crate) mod ip;
#[cfg(test)]
mod tests;

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{Context, Result, bail};

pub use ip::namespaces;
use ip::{ip, ip_delete, root_links, route_destination};

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
