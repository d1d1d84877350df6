//! Pod networking on the node. A pod whose runtime isolates its network (runc) gets its own
//! network namespace, with an address the node's network plugin chooses from the node's
//! `spec.podCIDR`, on a veth pair whose host end is a port of the node's bridge; pods on
//! the node reach each other by pod IP across the bridge.
//!
//! - [`plugin`]: the network plugin, loaded from its `Plugin` object through the API and
//!   followed as it changes (the next allocation uses the new version).
//! - [`addresses`]: what the node has handed out, one record per address on disk, so an
//!   agent that restarts keeps each pod's address and releases those of pods gone meanwhile.
//! - [`datapath`]: the bridge, namespaces and veth pairs, made with `ip` (iproute2).
//!
//! Allocation is serialised on the node: the plugin sees every address in use, and no two
//! pods get the same one. What the plugin answers is checked (an address of the pod CIDR,
//! not its network, gateway or broadcast address, not in use) before anything is made.

pub mod addresses;
pub mod datapath;
pub mod plugin;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::Ipv4Net;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::client::http::ApiClient;
use crate::plugin::calls::{NodeNetwork, PodRef};
use addresses::{Addresses, Record};
use datapath::Datapath;
use plugin::NetworkPlugin;

/// A pod's network, once made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its network namespace, as a path for the runtime.
    pub namespace: PathBuf,
    /// Its address (the pod IP).
    pub address: Ipv4Addr,
}

/// The node's pod networks.
pub struct PodNetworks {
    client: Arc<ApiClient>,
    node: String,
    plugin: NetworkPlugin,
    datapath: Datapath,
    /// Held while an address is chosen or released.
    addresses: Mutex<Addresses>,
}

impl PodNetworks {
    /// The networks of node `node`, keeping their records under `dir`.
    pub fn new(client: Arc<ApiClient>, node: &str, dir: &Path) -> Result<PodNetworks, String> {
        Ok(PodNetworks {
            plugin: NetworkPlugin::new(client.clone(), &dir.join("plugin-cache")),
            client,
            node: node.to_string(),
            datapath: Datapath::new(),
            addresses: Mutex::new(Addresses::open(&dir.join("addresses"))?),
        })
    }

    /// Makes the network of pod `pod` (or makes it again, with the address it holds).
    pub async fn attach(&self, pod: &PodRef) -> Result<Attachment, String> {
        let mut addresses = self.addresses.lock().await;
        let record = match addresses.of(&pod.uid) {
            Some(record) => record,
            None => {
                let record = self.allocate(&addresses, pod).await?;
                addresses.hold(&record)?;
                record
            }
        };
        match self.datapath.attach(&pod.uid, &record).await {
            Ok(namespace) => Ok(Attachment {
                namespace,
                address: record.address,
            }),
            Err(error) => {
                self.datapath.detach(&pod.uid).await;
                addresses.release(&pod.uid);
                Err(error)
            }
        }
    }

    /// Removes the network of the pod with `uid` and frees its address.
    pub async fn detach(&self, uid: &str) {
        let mut addresses = self.addresses.lock().await;
        self.datapath.detach(uid).await;
        addresses.release(uid);
    }

    /// Removes the networks of pods that are not among `present` (uids), after a relist:
    /// pods deleted while the agent was away.
    pub async fn keep_only(&self, present: &HashSet<String>) {
        let gone: Vec<String> = {
            let addresses = self.addresses.lock().await;
            addresses
                .uids()
                .into_iter()
                .filter(|uid| !present.contains(uid))
                .collect()
        };
        for uid in gone {
            tracing::info!(pod = uid, "releasing the network of a pod that is gone");
            self.detach(&uid).await;
        }
    }

    /// Asks the plugin for an address and checks it.
    async fn allocate(&self, addresses: &Addresses, pod: &PodRef) -> Result<Record, String> {
        let cidr = self.pod_cidr().await?;
        let in_use = addresses.in_use();
        let network = NodeNetwork {
            node_name: self.node.clone(),
            pod_cidr: cidr.to_string(),
        };
        let answer = self.plugin.allocate(network, pod.clone(), &in_use).await?;
        let address: Ipv4Addr = answer.address.parse().map_err(|_| {
            format!(
                "the network plugin answered {:?}, not an IPv4 address",
                answer.address
            )
        })?;
        check_address(cidr, address, &in_use)?;
        Ok(Record {
            uid: pod.uid.clone(),
            address,
            cidr,
        })
    }

    /// The node's `spec.podCIDR`.
    async fn pod_cidr(&self) -> Result<Ipv4Net, String> {
        let node = self
            .client
            .get(&format!("/api/v1/nodes/{}", self.node))
            .await
            .map_err(|e| format!("cannot read node {}: {e}", self.node))?;
        let text = node
            .pointer("/spec/podCIDR")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| format!("node {} has no spec.podCIDR yet", self.node))?;
        let cidr: Ipv4Net = text
            .parse()
            .map_err(|_| format!("node {} has podCIDR {text:?}, not an IPv4 CIDR", self.node))?;
        if cidr.prefix_len() > 30 {
            return Err(format!("podCIDR {cidr} leaves no room for pods"));
        }
        Ok(cidr.trunc())
    }
}

/// An address the plugin gave is one a pod may have: in `cidr`, not its network, gateway
/// (the first host address, the bridge's) or broadcast address, not held by another pod.
pub fn check_address(cidr: Ipv4Net, address: Ipv4Addr, in_use: &[Ipv4Addr]) -> Result<(), String> {
    let bad = |why: &str| Err(format!("the network plugin answered {address}, {why}"));
    if !cidr.contains(&address) {
        return bad(&format!("outside the node's podCIDR {cidr}"));
    }
    if address == cidr.network() || address == cidr.broadcast() || address == gateway(cidr) {
        return bad(&format!(
            "the network, gateway or broadcast address of {cidr}"
        ));
    }
    if in_use.contains(&address) {
        return bad("which another pod holds");
    }
    Ok(())
}

/// The gateway of a pod CIDR: its first host address, held by the node's bridge.
pub fn gateway(cidr: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(cidr.network()).saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr() -> Ipv4Net {
        "10.244.3.0/24".parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn plugin_answers_outside_the_pod_cidr_or_reserved_or_taken_are_refused() {
        let taken = [Ipv4Addr::new(10, 244, 3, 2)];
        assert_eq!(
            check_address(cidr(), Ipv4Addr::new(10, 244, 3, 3), &taken),
            Ok(())
        );
        for bad in [
            Ipv4Addr::new(10, 244, 4, 3),
            Ipv4Addr::new(10, 244, 3, 0),
            Ipv4Addr::new(10, 244, 3, 1),
            Ipv4Addr::new(10, 244, 3, 255),
            Ipv4Addr::new(10, 244, 3, 2),
        ] {
            assert!(
                check_address(cidr(), bad, &taken).is_err(),
                "{bad} accepted"
            );
        }
        assert_eq!(gateway(cidr()), Ipv4Addr::new(10, 244, 3, 1));
    }
}
