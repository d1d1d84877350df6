//! The restricted level's checks, one function per control of the Pod Security Standards'
//! restricted table, each worded as Kubernetes' `pod-security-admission` words it. Pods that
//! declare `spec.os.name: windows` are exempt from the Linux-only ones (privilege escalation,
//! capabilities, seccomp), as in Kubernetes.

use std::collections::BTreeSet;

use serde_json::Value;

use super::baseline::{bad_seccomp_setters, seccomp_setters_violation, volumes};
use super::{
    Pod, Violation, containers_phrase, context, join_quote, name, pluralize, present, strings,
};

/// Volume sources a restricted pod may use.
pub const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Volume sources Kubernetes names when it refuses them, in the order it looks for them.
const KNOWN_VOLUMES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// "Privilege Escalation": every container sets `allowPrivilegeEscalation: false`.
pub fn allow_privilege_escalation(pod: &Pod) -> Option<Violation> {
    if pod.is_windows() {
        return None;
    }
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| context(c, "/allowPrivilegeEscalation").and_then(Value::as_bool) != Some(false))
        .map(name)
        .collect();
    (!bad.is_empty()).then(|| {
        Violation::new(
            "allowPrivilegeEscalation != false",
            format!(
                "{} must set securityContext.allowPrivilegeEscalation=false",
                containers_phrase(&bad)
            ),
        )
    })
}

/// "Capabilities" (restricted): every container drops ALL and adds at most NET_BIND_SERVICE.
pub fn capabilities(pod: &Pod) -> Option<Violation> {
    if pod.is_windows() {
        return None;
    }
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut added = BTreeSet::new();
    for c in pod.containers() {
        let Some(caps) = context(c, "/capabilities") else {
            missing_drop.push(name(c));
            continue;
        };
        if !strings(caps.get("drop")).contains(&"ALL") {
            missing_drop.push(name(c));
        }
        let extra: Vec<&str> = strings(caps.get("add"))
            .into_iter()
            .filter(|cap| *cap != "NET_BIND_SERVICE")
            .collect();
        if !extra.is_empty() {
            adding.push(name(c));
            added.extend(extra);
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        let added: Vec<&str> = added.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&added)
        ));
    }
    (!details.is_empty()).then(|| Violation::new("unrestricted capabilities", details.join("; ")))
}

/// The source a volume uses that the restricted level refuses, or `None` when allowed.
fn restricted_source(volume: &Value) -> Option<&'static str> {
    let has = |key: &str| present(volume.get(key)).is_some();
    if ALLOWED_VOLUMES.iter().any(|k| has(k)) {
        return None;
    }
    Some(
        KNOWN_VOLUMES
            .iter()
            .copied()
            .find(|k| has(k))
            .unwrap_or("unknown"),
    )
}

/// "Volume Types": only the allowed volume sources.
pub fn volume_types(pod: &Pod) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut kinds = BTreeSet::new();
    for v in volumes(pod) {
        if let Some(kind) = restricted_source(v) {
            bad.push(name(v));
            kinds.insert(kind);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let kinds: Vec<&str> = kinds.into_iter().collect();
    Some(Violation::new(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad.len()),
            join_quote(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                kinds.len()
            ),
            join_quote(&kinds)
        ),
    ))
}

/// "Running as Non-root": the pod, or every container, sets `runAsNonRoot: true`, and none
/// sets it false.
pub fn run_as_non_root(pod: &Pod) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut pod_non_root = false;
    match pod.context("/runAsNonRoot").and_then(Value::as_bool) {
        Some(false) => setters.push("pod".to_string()),
        Some(true) => pod_non_root = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in pod.containers() {
        match context(c, "/runAsNonRoot").and_then(Value::as_bool) {
            Some(false) => explicit.push(name(c)),
            Some(true) => {}
            None if !pod_non_root => implicit.push(name(c)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    let mut details = Vec::new();
    if !setters.is_empty() {
        details.push(format!(
            "{} must not set securityContext.runAsNonRoot=false",
            setters.join(" and ")
        ));
    }
    if !implicit.is_empty() {
        details.push(format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            containers_phrase(&implicit)
        ));
    }
    (!details.is_empty()).then(|| Violation::new("runAsNonRoot != true", details.join("\n")))
}

/// "Running as Non-root user": no `runAsUser: 0`.
pub fn run_as_user(pod: &Pod) -> Option<Violation> {
    let is_root = |v: Option<&Value>| v.and_then(Value::as_i64) == Some(0);
    let mut setters = Vec::new();
    if is_root(pod.context("/runAsUser")) {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| is_root(context(c, "/runAsUser")))
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    (!setters.is_empty()).then(|| {
        Violation::new(
            "runAsUser=0",
            format!("{} must not set runAsUser=0", setters.join(" and ")),
        )
    })
}

/// "Seccomp" (restricted): RuntimeDefault or Localhost, set on the pod or every container.
pub fn seccomp_profile(pod: &Pod) -> Option<Violation> {
    if pod.is_windows() {
        return None;
    }
    let (setters, types) = bad_seccomp_setters(pod);
    if !setters.is_empty() {
        return Some(seccomp_setters_violation(&setters, &types));
    }
    let pod_set = pod.context("/seccompProfile").is_some();
    if pod_set {
        return None;
    }
    let implicit: Vec<String> = pod
        .containers()
        .filter(|c| context(c, "/seccompProfile").is_none())
        .map(name)
        .collect();
    (!implicit.is_empty()).then(|| {
        Violation::new(
            "seccompProfile",
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(&implicit)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(check: fn(&Pod) -> Option<Violation>, pod: Value) -> Option<String> {
        check(&Pod::of(&pod)).map(|v| format!("{} ({})", v.reason, v.detail))
    }

    fn with_context(sc: Value) -> Value {
        json!({"spec": {"containers": [{"name": "c", "image": "i", "securityContext": sc}]}})
    }

    // Restricted "Privilege Escalation".
    #[test]
    fn privilege_escalation_must_be_disallowed() {
        assert_eq!(
            run(
                allow_privilege_escalation,
                with_context(json!({"allowPrivilegeEscalation": true}))
            )
            .as_deref(),
            Some(
                "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false)"
            )
        );
        assert!(run(allow_privilege_escalation, with_context(json!({}))).is_some());
        assert_eq!(
            run(
                allow_privilege_escalation,
                with_context(json!({"allowPrivilegeEscalation": false}))
            ),
            None
        );
        let windows = json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "c"}]}});
        assert_eq!(run(allow_privilege_escalation, windows), None);
    }

    // Restricted "Capabilities".
    #[test]
    fn capabilities_must_drop_all_and_add_only_net_bind_service() {
        assert_eq!(
            run(capabilities, with_context(json!({"capabilities": {"drop": ["NET_RAW"], "add": ["SYS_TIME", "NET_BIND_SERVICE"]}}))).as_deref(),
            Some("unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]; container \"c\" must not include \"SYS_TIME\" in securityContext.capabilities.add)")
        );
        assert_eq!(
            run(capabilities, with_context(json!({}))).as_deref(),
            Some(
                "unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"])"
            )
        );
        assert_eq!(
            run(
                capabilities,
                with_context(
                    json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})
                )
            ),
            None
        );
    }

    // Restricted "Volume Types".
    #[test]
    fn only_allowed_volume_types() {
        let pod = json!({"spec": {"volumes": [
            {"name": "a", "hostPath": {"path": "/"}},
            {"name": "b", "nfs": {"server": "s", "path": "/"}},
            {"name": "c", "configMap": {"name": "x"}},
            {"name": "d", "somethingNew": {}}
        ]}});
        assert_eq!(
            run(volume_types, pod).as_deref(),
            Some(
                "restricted volume types (volumes \"a\", \"b\", \"d\" use restricted volume types \"hostPath\", \"nfs\", \"unknown\")"
            )
        );
        let ok = json!({"spec": {"volumes": [
            {"name": "a", "emptyDir": {}}, {"name": "b", "secret": {"secretName": "s"}},
            {"name": "c", "persistentVolumeClaim": {"claimName": "x"}}, {"name": "d", "projected": {"sources": []}},
            {"name": "e", "csi": {"driver": "d"}}, {"name": "f", "downwardAPI": {}}, {"name": "g", "ephemeral": {}}
        ]}});
        assert_eq!(run(volume_types, ok), None);
        let one = json!({"spec": {"volumes": [{"name": "a", "hostPath": {"path": "/"}}]}});
        assert_eq!(
            run(volume_types, one).as_deref(),
            Some("restricted volume types (volume \"a\" uses restricted volume type \"hostPath\")")
        );
    }

    // Restricted "Running as Non-root".
    #[test]
    fn run_as_non_root_is_required() {
        assert_eq!(
            run(run_as_non_root, with_context(json!({}))).as_deref(),
            Some(
                "runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true)"
            )
        );
        let pod_level = json!({"spec": {"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "c"}]}});
        assert_eq!(run(run_as_non_root, pod_level), None);
        let contradicted = json!({"spec": {"securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c", "securityContext": {"runAsNonRoot": false}}]}});
        assert_eq!(
            run(run_as_non_root, contradicted).as_deref(),
            Some(
                "runAsNonRoot != true (container \"c\" must not set securityContext.runAsNonRoot=false)"
            )
        );
        let pod_false = json!({"spec": {"securityContext": {"runAsNonRoot": false}, "containers": [{"name": "c"}]}});
        assert_eq!(
            run(run_as_non_root, pod_false).as_deref(),
            Some(
                "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false\npod or container \"c\" must set securityContext.runAsNonRoot=true)"
            )
        );
    }

    // Restricted "Running as Non-root user".
    #[test]
    fn run_as_user_may_not_be_root() {
        let pod = json!({"spec": {"securityContext": {"runAsUser": 0},
            "containers": [{"name": "c", "securityContext": {"runAsUser": 0}}, {"name": "d", "securityContext": {"runAsUser": 1000}}]}});
        assert_eq!(
            run(run_as_user, pod).as_deref(),
            Some("runAsUser=0 (pod and container \"c\" must not set runAsUser=0)")
        );
        assert_eq!(
            run(run_as_user, with_context(json!({"runAsUser": 1000}))),
            None
        );
    }

    // Restricted "Seccomp".
    #[test]
    fn seccomp_must_be_runtime_default_or_localhost() {
        assert_eq!(
            run(seccomp_profile, with_context(json!({}))).as_deref(),
            Some(
                "seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
            )
        );
        assert_eq!(
            run(
                seccomp_profile,
                with_context(json!({"seccompProfile": {"type": "Unconfined"}}))
            )
            .as_deref(),
            Some(
                "seccompProfile (container \"c\" must not set securityContext.seccompProfile.type to \"Unconfined\")"
            )
        );
        let pod_level = json!({"spec": {"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
            "containers": [{"name": "c"}]}});
        assert_eq!(run(seccomp_profile, pod_level), None);
        let per_container = json!({"spec": {"containers": [
            {"name": "a", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
            {"name": "b"}
        ]}});
        assert_eq!(
            run(seccomp_profile, per_container).as_deref(),
            Some(
                "seccompProfile (pod or container \"b\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
            )
        );
    }

    // Restricted checks cover init and ephemeral containers.
    #[test]
    fn init_and_ephemeral_containers_are_checked() {
        let sc = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
        let pod = json!({"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "c", "securityContext": sc}],
            "ephemeralContainers": [{"name": "debug"}]
        }});
        assert_eq!(
            run(allow_privilege_escalation, pod).as_deref(),
            Some(
                "allowPrivilegeEscalation != false (containers \"init\", \"debug\" must set securityContext.allowPrivilegeEscalation=false)"
            )
        );
    }
}
