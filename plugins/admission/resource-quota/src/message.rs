//! Quota's denial messages, in Kubernetes' words.

use std::collections::{BTreeMap, BTreeSet};

use crate::resources::Usage;

/// `name=value,...` over `names` (sorted), values printed canonically; a name `usage`
/// lacks prints as 0 (Kubernetes' `prettyPrint` of a masked list).
fn pretty(usage: &Usage, names: &BTreeSet<String>) -> String {
    names
        .iter()
        .map(|name| {
            let value = usage.get(name).copied().unwrap_or_default();
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `exceeded quota: compute-quota, requested: pods=1,requests.cpu=500m, used:
/// pods=2,requests.cpu=1500m, limited: pods=2,requests.cpu=2`, listing only `exceeded`.
pub fn exceeded(
    quota: &str,
    requested: &Usage,
    used: &Usage,
    hard: &Usage,
    exceeded: &BTreeSet<String>,
) -> String {
    format!(
        "exceeded quota: {quota}, requested: {}, used: {}, limited: {}",
        pretty(requested, exceeded),
        pretty(used, exceeded),
        pretty(hard, exceeded)
    )
}

/// `failed quota: compute-quota: must specify limits.cpu for: web; requests.cpu for:
/// init,web`: per resource (sorted), the containers (sorted) that do not set it.
pub fn must_specify(quota: &str, missing: &BTreeMap<String, BTreeSet<String>>) -> String {
    let parts: Vec<String> = missing
        .iter()
        .map(|(resource, containers)| {
            let containers: Vec<&str> = containers.iter().map(String::as_str).collect();
            format!("{resource} for: {}", containers.join(","))
        })
        .collect();
    format!("failed quota: {quota}: must specify {}", parts.join("; "))
}

/// `quota usage is negative for resource(s): requests.cpu`.
pub fn negative(names: &[String]) -> String {
    format!(
        "quota usage is negative for resource(s): {}",
        names.join(",")
    )
}

#[cfg(test)]
mod tests {
    use keel_sdk::quantity::Quantity;

    use super::*;

    fn usage(pairs: &[(&str, &str)]) -> Usage {
        pairs
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), Quantity::parse(v).ok()?)))
            .collect()
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exceeded_lists_only_the_exceeded_resources_sorted() {
        let message = exceeded(
            "compute-quota",
            &usage(&[
                ("requests.cpu", "500m"),
                ("pods", "1"),
                ("requests.memory", "1Gi"),
            ]),
            &usage(&[
                ("requests.cpu", "1500m"),
                ("pods", "2"),
                ("requests.memory", "0"),
            ]),
            &usage(&[
                ("requests.cpu", "2"),
                ("pods", "2"),
                ("requests.memory", "4Gi"),
            ]),
            &names(&["requests.cpu", "pods"]),
        );
        assert_eq!(
            message,
            "exceeded quota: compute-quota, requested: pods=1,requests.cpu=500m, used: pods=2,requests.cpu=1500m, limited: pods=2,requests.cpu=2"
        );
    }

    #[test]
    fn must_specify_groups_containers_by_resource() {
        let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        missing.insert("requests.cpu".into(), names(&["web"]));
        missing.insert("limits.cpu".into(), names(&["web", "init"]));
        assert_eq!(
            must_specify("compute-quota", &missing),
            "failed quota: compute-quota: must specify limits.cpu for: init,web; requests.cpu for: web"
        );
    }

    #[test]
    fn negative_names_resources() {
        assert_eq!(
            negative(&["cpu".into(), "requests.cpu".into()]),
            "quota usage is negative for resource(s): cpu,requests.cpu"
        );
    }
}
