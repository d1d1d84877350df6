//! Pod networks for tests that run agents side by side on one machine: each test claims a
//! cluster CIDR of its own (`10.<100+n>.0.0/16`, slot `n` held by a lock on a file in
//! `/tmp/keel-test-cidrs`, so concurrent test processes never share one), and what pods
//! and bridges of that CIDR a test leaves behind (agents are killed, not stopped) is
//! removed when the claim is dropped, and before it is used, in case a run crashed.

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::netns::{ip::ip, namespaces};

/// Slots, and so test processes that may hold a CIDR at once.
const SLOTS: u8 = 100;

/// A cluster CIDR held by this test.
pub struct ClusterCidr {
    second_octet: u8,
    _lock: File,
}

impl ClusterCidr {
    /// Claims a free slot, after clearing what an earlier holder left.
    pub fn claim() -> Result<ClusterCidr> {
        let dir = Path::new("/tmp/keel-test-cidrs");
        std::fs::create_dir_all(dir)?;
        for slot in 0..SLOTS {
            let file = File::create(dir.join(slot.to_string()))?;
            if file.try_lock().is_ok() {
                let claim = ClusterCidr {
                    second_octet: 100 + slot,
                    _lock: file,
                };
                claim.clear();
                return Ok(claim);
            }
        }
        bail!("every one of the {SLOTS} test cluster CIDRs is held")
    }

    /// The CIDR, as the node IPAM controller's `clusterCidr`.
    pub fn cidr(&self) -> String {
        format!("10.{}.0.0/16", self.second_octet)
    }

    /// Whether `address` is in it.
    pub fn contains(&self, address: &str) -> bool {
        address
            .parse::<Ipv4Addr>()
            .is_ok_and(|a| a.octets()[0] == 10 && a.octets()[1] == self.second_octet)
    }

    /// A node IPAM controller spec file under `dir` that hands out blocks of this CIDR.
    pub fn node_ipam_spec(&self, dir: &Path) -> Result<PathBuf> {
        let default = std::fs::read_to_string(keel_plugin_artifacts::deploy_spec("node-ipam"))?;
        let spec = default.replace("10.244.0.0/16", &self.cidr());
        if spec == default {
            bail!("deploy/plugins/node-ipam.yaml no longer names 10.244.0.0/16");
        }
        let path = dir.join("node-ipam.yaml");
        std::fs::write(&path, spec)?;
        Ok(path)
    }

    /// Removes the network namespaces whose `eth0` and the links (bridges) whose addresses
    /// are in this CIDR.
    fn clear(&self) {
        // Best effort: what cannot be listed or removed is left, and tried again next claim.
        for namespace in namespaces().unwrap_or_default() {
            let addresses = ip(&["-n", &namespace, "-4", "-o", "addr", "show"]).unwrap_or_default();
            if addresses.lines().any(|line| self.holds(line)) {
                let _ = ip(&["netns", "del", &namespace]);
            }
        }
        for line in ip(&["-4", "-o", "addr", "show"])
            .unwrap_or_default()
            .lines()
        {
            let Some(link) = line.split_whitespace().nth(1) else {
                continue;
            };
            if link.starts_with("keel") && self.holds(line) {
                let _ = ip(&["link", "del", link]);
            }
        }
    }

    /// Whether one line of `ip -o -4 addr show` has an address in this CIDR.
    fn holds(&self, line: &str) -> bool {
        line.split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .is_some_and(|a| self.contains(a))
    }
}

impl Drop for ClusterCidr {
    fn drop(&mut self) {
        self.clear();
    }
}
