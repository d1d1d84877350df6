//! The node's bridge and each pod's network namespace and veth pair, made and removed with
//! `ip` from iproute2 (as the CNI bridge plugin does with netlink):
//!
//! - the bridge `keel<8 hex of the pod CIDR>` holds the gateway, the first address of the
//!   pod CIDR (named for the CIDR, so agents of several nodes on one machine, as in tests,
//!   each have their own); it does not pass its frames to iptables (`nf_call_iptables 0`), so a host
//!   firewall that drops forwarded traffic does not cut pods on one node off each other;
//! - a pod's namespace is `keel-<pod uid>` (`/run/netns/keel-<uid>`), with `lo` up and `eth0`
//!   holding its address and a default route through the gateway;
//! - `eth0`'s peer `kv<12 hex of the uid>` is a port of the bridge.
//!
//! Removing the namespace removes its `eth0` and so the pair.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use ipnet::Ipv4Net;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::Mutex;

use super::addresses::Record;
use super::gateway;
use crate::plugin::digest;

/// How long one `ip` run may take.
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where `ip netns` keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// The node's datapath.
#[derive(Default)]
pub struct Datapath {
    /// The pod CIDR whose bridge this agent has set up.
    bridged: Mutex<Option<Ipv4Net>>,
}

impl Datapath {
    /// A datapath with no bridge set up yet.
    pub fn new() -> Datapath {
        Datapath::default()
    }

    /// Makes pod `uid`'s namespace and pair (removing leftovers of an earlier attempt
    /// first); answers the namespace's path.
    pub async fn attach(&self, uid: &str, record: &Record) -> Result<PathBuf, String> {
        let bridge = self.ensure_bridge(record.cidr).await?;
        self.detach(uid).await;
        let (namespace, host_end) = (namespace_name(uid), host_end(uid));
        ip(
            &[],
            &format!(
                "netns add {namespace}\n\
                 link add {host_end} type veth peer name eth0 netns {namespace}\n\
                 link set {host_end} master {bridge} up\n"
            ),
        )
        .await?;
        ip(
            &["-n", &namespace],
            &format!(
                "addr add {address}/{prefix} dev eth0\n\
                 link set eth0 up\n\
                 link set lo up\n\
                 route add default via {gateway}\n",
                address = record.address,
                prefix = record.cidr.prefix_len(),
                gateway = gateway(record.cidr),
            ),
        )
        .await?;
        Ok(PathBuf::from(NETNS_DIR).join(namespace))
    }

    /// Removes pod `uid`'s namespace and pair, if there are any.
    pub async fn detach(&self, uid: &str) {
        let namespace = namespace_name(uid);
        if PathBuf::from(NETNS_DIR).join(&namespace).exists()
            && let Err(e) = ip(&[], &format!("netns del {namespace}\n")).await
        {
            tracing::warn!(pod = uid, "cannot remove network namespace: {e}");
        }
        let host_end = host_end(uid);
        if PathBuf::from("/sys/class/net").join(&host_end).exists()
            && let Err(e) = ip(&[], &format!("link del {host_end}\n")).await
        {
            tracing::warn!(pod = uid, "cannot remove veth {host_end}: {e}");
        }
    }

    /// Makes the bridge of `cidr`, with its gateway, if this agent has not yet; answers
    /// its name.
    async fn ensure_bridge(&self, cidr: Ipv4Net) -> Result<String, String> {
        let bridge = bridge_name(cidr);
        let mut bridged = self.bridged.lock().await;
        if *bridged == Some(cidr) {
            return Ok(bridge);
        }
        if !PathBuf::from("/sys/class/net").join(&bridge).exists() {
            ip(&[], &format!("link add name {bridge} type bridge\n")).await?;
        }
        ip(
            &[],
            &format!(
                "link set {bridge} type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0\n\
                 addr replace {gateway}/{prefix} dev {bridge}\n\
                 link set {bridge} up\n",
                gateway = gateway(cidr),
                prefix = cidr.prefix_len(),
            ),
        )
        .await?;
        *bridged = Some(cidr);
        Ok(bridge)
    }
}

/// The bridge of pod CIDR `cidr` (at most 15 bytes, as interface names are).
pub fn bridge_name(cidr: Ipv4Net) -> String {
    format!("keel{}", &hex_of(&cidr.to_string())[..8])
}

/// The network namespace of pod `uid`.
pub fn namespace_name(uid: &str) -> String {
    format!("keel-{uid}")
}

/// The host end of pod `uid`'s veth pair (at most 15 bytes, as interface names are).
pub fn host_end(uid: &str) -> String {
    format!("kv{}", &hex_of(uid)[..12])
}

fn hex_of(text: &str) -> String {
    let digest = digest(text.as_bytes());
    digest
        .strip_prefix("sha256:")
        .unwrap_or(&digest)
        .to_string()
}

/// Runs `ip [global...] -batch -` with `commands`, one per line, stopping at the first
/// that fails.
async fn ip(global: &[&str], commands: &str) -> Result<(), String> {
    let mut child = Command::new("ip")
        .args(global)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ip (iproute2): {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .await
            .map_err(|e| format!("ip: {e}"))?;
    }
    let output = tokio::time::timeout(IP_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("ip took longer than {IP_TIMEOUT:?}"))?
        .map_err(|e| format!("ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            commands.trim().replace('\n', "; "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_in_an_interface_name_and_differ_by_pod() {
        let a = host_end("9f1c2d3e-0000-4000-8000-000000000001");
        let b = host_end("9f1c2d3e-0000-4000-8000-000000000002");
        assert!(a.len() <= 15 && b.len() <= 15, "{a} {b}");
        assert_ne!(a, b);
        let cidr = |text: &str| text.parse::<Ipv4Net>().unwrap_or_else(|e| panic!("{e}"));
        let bridge = bridge_name(cidr("10.244.0.0/24"));
        assert!(bridge.len() <= 15, "{bridge}");
        assert_ne!(bridge, bridge_name(cidr("10.244.1.0/24")));
        assert_eq!(namespace_name("u1"), "keel-u1");
    }
}
