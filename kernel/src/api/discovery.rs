//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/{group}`, and
//! the resource lists kubectl and client libraries read to map kinds to
//! paths (including the `status`, `scale`, `binding` and `log` subresources).

use serde_json::{Value, json};

use crate::object::{Registry, ResourceType};

/// The Kubernetes API version whose conventions Keel follows.
pub const KUBE_MINOR: &str = "32";

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": format!("v1.{KUBE_MINOR}.0-keel.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [],
    })
}

fn group_object(kinds: &Registry, group: &str) -> Value {
    let versions: Vec<Value> = kinds
        .versions(group)
        .into_iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `/apis`.
pub fn groups(kinds: &Registry) -> Value {
    let groups: Vec<Value> = kinds
        .groups()
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(|g| group_object(kinds, g))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, if the group is served.
pub fn group(kinds: &Registry, group: &str) -> Option<Value> {
    (!group.is_empty() && kinds.groups().contains(&group)).then(|| group_object(kinds, group))
}

const MAIN_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn resource_entries(rt: &ResourceType) -> Vec<Value> {
    let mut out = vec![json!({
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": MAIN_VERBS,
        "shortNames": rt.short_names,
        "categories": rt.categories,
    })];
    let sub = |name: &str, kind: &str, verbs: &[&str]| json!({"name": format!("{}/{name}", rt.plural), "singularName": "", "namespaced": rt.namespaced, "kind": kind, "verbs": verbs});
    if rt.status_subresource {
        out.push(sub("status", rt.kind, &["get", "patch", "update"]));
    }
    if rt.scale_subresource {
        let mut s = sub("scale", "Scale", &["get", "patch", "update"]);
        s["group"] = json!("autoscaling");
        s["version"] = json!("v1");
        out.push(s);
    }
    if rt.kind == "Pod" {
        out.push(sub("binding", "Binding", &["create"]));
        out.push(sub("log", "Pod", &["get"]));
        out.push(sub("exec", "PodExecOptions", &["create", "get"]));
    }
    out
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub fn resource_list(kinds: &Registry, group: &str, version: &str) -> Value {
    let resources: Vec<Value> = kinds
        .in_group_version(group, version)
        .flat_map(resource_entries)
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_kinds_and_subresources() {
        let kinds = Registry::default();
        let apps = resource_list(&kinds, "apps", "v1");
        let names: Vec<&str> = apps["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(
            names.contains(&"deployments")
                && names.contains(&"deployments/scale")
                && names.contains(&"deployments/status")
        );
        let core = resource_list(&kinds, "", "v1");
        assert_eq!(core["groupVersion"], "v1");
        let groups = groups(&kinds);
        assert!(
            groups["groups"]
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g["name"] == "apps"))
        );
        assert!(group(&kinds, "nope").is_none());
    }
}
