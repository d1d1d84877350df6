//! Network plugin: host-local IPAM. Each pod gets the lowest free address of its node's
//! `spec.podCIDR` (IPv4), skipping the network address, the gateway (the first host
//! address) and the broadcast address. The agent tells which addresses are in use, so the
//! plugin keeps no state and an address is free again as soon as its pod is gone.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use keel_sdk::network::{Network, NodeNetwork, PluginError, PodAddress, PodRef};

/// A parsed IPv4 CIDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub network: u32,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl Cidr {
    /// Parses "10.244.1.0/24".
    pub fn parse(text: &str) -> Result<Cidr, PluginError> {
        let bad = || PluginError::new(format!("pod CIDR {text:?} is not an IPv4 CIDR"));
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 30 {
            return Err(PluginError::new(format!(
                "pod CIDR {text:?} leaves no room for pods"
            )));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr {
            network: u32::from(address) & mask,
            prefix,
        })
    }

    fn broadcast(self) -> u32 {
        self.network | (u32::MAX >> self.prefix)
    }

    /// The gateway: the first host address.
    pub fn gateway(self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// The lowest address for a pod that is not in `in_use`.
    pub fn first_free(self, in_use: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
        (self.network + 2..self.broadcast())
            .map(Ipv4Addr::from)
            .find(|a| !in_use.contains(a))
    }
}

struct HostLocal;

impl Network for HostLocal {
    fn allocate(
        node: NodeNetwork,
        pod: PodRef,
        in_use: Vec<String>,
    ) -> Result<PodAddress, PluginError> {
        let cidr = Cidr::parse(&node.pod_cidr)?;
        let in_use: HashSet<Ipv4Addr> = in_use.iter().filter_map(|a| a.parse().ok()).collect();
        let address = cidr.first_free(&in_use).ok_or_else(|| {
            PluginError::new(format!(
                "no free address in {} on node {} for pod {}/{}",
                node.pod_cidr, node.node_name, pod.namespace, pod.name
            ))
        })?;
        Ok(PodAddress {
            address: address.to_string(),
            prefix_length: cidr.prefix,
            gateway: cidr.gateway().to_string(),
        })
    }
}

keel_sdk::export_network!(HostLocal);
