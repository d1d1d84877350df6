//! Running `ip` (iproute2) and reading its listings: routes, root-namespace
//! links and named namespaces.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

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

/// Parses the destination of one line of `ip -4 -o route show`.
pub(super) fn route_destination(route: &str) -> Option<(Ipv4Addr, u8)> {
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
pub(super) fn root_links() -> Result<Vec<String>> {
    let listing = ip(&["-o", "link", "show"])?;
    Ok(listing.lines().filter_map(link_name).collect())
}

/// The link name in one line of `ip -o link show` (`7: name@peer: <...`).
pub(super) fn link_name(line: &str) -> Option<String> {
    let (_, rest) = line.split_once(": ")?;
    let (name, _) = rest.split_once(':')?;
    let name = name.split_once('@').map_or(name, |(name, _)| name);
    Some(name.to_owned())
}

/// The names of all named network namespaces.
pub fn namespaces() -> Result<Vec<String>> {
    let listing = ip(&["netns", "list"])?;
    Ok(listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// Runs a deleting `ip` command; something already gone counts as deleted.
pub(super) fn ip_delete(args: &[&str]) -> Result<()> {
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
pub(crate) fn ip(args: &[&str]) -> Result<String> {
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
