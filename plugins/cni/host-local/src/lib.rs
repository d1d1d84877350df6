//! Network plugin: host-local IPAM. Each pod gets the lowest free address of its node's
//! `spec.podCIDR` (IPv4), skipping the network address, the gateway (the first host
//! address, held by the node's bridge) and the broadcast address. The agent tells which
//! addresses are in use, so the plugin keeps no state and an address is free again as soon
//! as its pod is gone.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use keel_sdk::network::{Network, NodeNetwork, PluginError, PodAddress, PodRef};

/// Parses a pod CIDR ("10.244.1.0/24") that leaves room for pods.
pub fn parse_pod_cidr(text: &str) -> Result<Ipv4Net, PluginError> {
    let cidr: Ipv4Net = text
        .parse()
        .map_err(|_| PluginError::new(format!("pod CIDR {text:?} is not an IPv4 CIDR")))?;
    if cidr.prefix_len() > 30 {
        return Err(PluginError::new(format!(
            "pod CIDR {text:?} leaves no room for pods"
        )));
    }
    Ok(cidr.trunc())
}

/// The gateway of `cidr`: its first host address.
pub fn gateway(cidr: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(cidr.network()) + 1)
}

/// The lowest address for a pod in `cidr` that is not in `in_use`.
pub fn first_free(cidr: Ipv4Net, in_use: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let gateway = gateway(cidr);
    cidr.hosts().find(|a| *a != gateway && !in_use.contains(a))
}

struct HostLocal;

impl Network for HostLocal {
    fn allocate(
        node: NodeNetwork,
        pod: PodRef,
        in_use: Vec<String>,
    ) -> Result<PodAddress, PluginError> {
        let cidr = parse_pod_cidr(&node.pod_cidr)?;
        let in_use: HashSet<Ipv4Addr> = in_use.iter().filter_map(|a| a.parse().ok()).collect();
        let address = first_free(cidr, &in_use).ok_or_else(|| {
            PluginError::new(format!(
                "no free address in {} on node {} for pod {}/{}",
                node.pod_cidr, node.node_name, pod.namespace, pod.name
            ))
        })?;
        Ok(PodAddress {
            address: address.to_string(),
            prefix_length: cidr.prefix_len(),
            gateway: gateway(cidr).to_string(),
        })
    }
}

keel_sdk::export_network!(HostLocal);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_free_host_address_past_the_gateway_is_chosen() {
        let cidr = parse_pod_cidr("10.244.1.9/30").unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(cidr.to_string(), "10.244.1.8/30");
        let none = HashSet::new();
        assert_eq!(first_free(cidr, &none), Some(Ipv4Addr::new(10, 244, 1, 10)));
        let taken = HashSet::from([Ipv4Addr::new(10, 244, 1, 10)]);
        assert_eq!(
            first_free(cidr, &taken),
            None,
            "network, gateway, broadcast skipped"
        );
        assert!(parse_pod_cidr("10.0.0.0/31").is_err());
        assert!(parse_pod_cidr("nonsense").is_err());
    }
}
