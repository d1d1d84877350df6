//! The baseline level's checks, one function per control of the Pod Security Standards'
//! baseline table, each worded as Kubernetes' `pod-security-admission` words it.

use std::collections::BTreeSet;

use keel_sdk::json::At;
use serde_json::Value;

use super::{
    Pod, Violation, containers_phrase, context, join_quote, name, pluralize, present, quote,
    strings,
};

/// Capabilities a baseline container may add.
pub const ALLOWED_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls a baseline pod may set: namespaced and isolated from other pods.
pub const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// SELinux types a baseline pod may use.
const SELINUX_TYPES: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn is_true(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(true)
}

/// The `type` of a profile object (`seccompProfile`, `appArmorProfile`).
fn profile_type(profile: &Value) -> String {
    profile
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Whether a seccomp profile type confines the pod: RuntimeDefault or Localhost.
pub fn confining_seccomp(kind: &str) -> bool {
    matches!(kind, "RuntimeDefault" | "Localhost")
}

/// "AppArmor": no Unconfined (or unknown) profile, in fields or the beta annotations.
pub fn app_armor_profile(pod: &Pod) -> Option<Violation> {
    let allowed_type = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
    let mut setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    if let Some(profile) = pod.context("/appArmorProfile") {
        let kind = profile_type(profile);
        if !allowed_type(&kind) {
            setters.push("pod".to_string());
            bad_values.insert(kind);
        }
    }
    let mut bad_containers = Vec::new();
    for c in pod.containers() {
        if let Some(profile) = context(c, "/appArmorProfile") {
            let kind = profile_type(profile);
            if !allowed_type(&kind) {
                bad_containers.push(name(c));
                bad_values.insert(kind);
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    let mut values: Vec<String> = bad_values.into_iter().collect();
    let mut annotations: Vec<String> = pod
        .annotations()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with(APPARMOR_ANNOTATION_PREFIX))
        .filter_map(|(k, v)| {
            let v = v.as_str().unwrap_or_default();
            let allowed = v.is_empty() || v == "runtime/default" || v.starts_with("localhost/");
            (!allowed).then(|| format!("{k}={}", quote(v)))
        })
        .collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    Some(Violation::new(
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            values.len(),
        ),
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
    ))
}

/// "Capabilities": nothing added beyond the default set.
pub fn capabilities(pod: &Pod) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut added = BTreeSet::new();
    for c in pod.containers() {
        let Some(caps) = context(c, "/capabilities") else {
            continue;
        };
        let extra: Vec<&str> = strings(caps.get("add"))
            .into_iter()
            .filter(|cap| !ALLOWED_CAPABILITIES.contains(cap))
            .collect();
        if !extra.is_empty() {
            bad.push(name(c));
            added.extend(extra);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let added: Vec<&str> = added.into_iter().collect();
    Some(Violation::new(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&added)
        ),
    ))
}

/// "Host Namespaces": no hostNetwork, hostPID or hostIPC.
pub fn host_namespaces(pod: &Pod) -> Option<Violation> {
    let shared: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|field| is_true(pod.spec.get(*field)))
        .map(|field| format!("{field}=true"))
        .collect();
    (!shared.is_empty()).then(|| Violation::new("host namespaces", shared.join(", ")))
}

/// "HostPath Volumes": none.
pub fn host_path_volumes(pod: &Pod) -> Option<Violation> {
    let names: Vec<String> = volumes(pod)
        .filter(|v| present(v.get("hostPath")).is_some())
        .map(name)
        .collect();
    (!names.is_empty()).then(|| {
        Violation::new(
            "hostPath volumes",
            format!(
                "{} {}",
                pluralize("volume", "volumes", names.len()),
                join_quote(&names)
            ),
        )
    })
}

/// The pod's volumes.
pub fn volumes<'a>(pod: &Pod<'a>) -> impl Iterator<Item = &'a Value> + use<'a> {
    pod.spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// "Host Ports": none, or 0.
pub fn host_ports(pod: &Pod) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut ports = BTreeSet::new();
    for c in pod.containers() {
        let used: Vec<i64> = c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("hostPort").and_then(Value::as_i64))
            .filter(|p| *p != 0)
            .collect();
        if !used.is_empty() {
            bad.push(name(c));
            ports.extend(used.iter().map(ToString::to_string));
        }
    }
    if bad.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    Some(Violation::new(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
    ))
}

/// "Host Probes / Lifecycle Hooks": probes and lifecycle handlers may not name a host.
pub fn host_probes_and_lifecycle(pod: &Pod) -> Option<Violation> {
    /// Each handler's `httpGet` and `tcpSocket` host, in the order Kubernetes visits them.
    const HOSTS: &[&str] = &[
        "/livenessProbe/httpGet/host",
        "/livenessProbe/tcpSocket/host",
        "/readinessProbe/httpGet/host",
        "/readinessProbe/tcpSocket/host",
        "/startupProbe/httpGet/host",
        "/startupProbe/tcpSocket/host",
        "/lifecycle/postStart/httpGet/host",
        "/lifecycle/postStart/tcpSocket/host",
        "/lifecycle/preStop/httpGet/host",
        "/lifecycle/preStop/tcpSocket/host",
    ];
    let mut bad = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for c in pod.containers() {
        for pointer in HOSTS {
            let host = c.at(pointer).and_then(Value::as_str).unwrap_or_default();
            if !host.is_empty() {
                bad.insert(name(c));
                hosts.insert(host.to_string());
            }
        }
    }
    if bad.is_empty() {
        return None;
    }
    let bad: Vec<String> = bad.into_iter().collect();
    let hosts: Vec<String> = hosts.into_iter().collect();
    Some(Violation::new(
        "probe or lifecycle host",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
    ))
}

/// "Privileged Containers": none.
pub fn privileged(pod: &Pod) -> Option<Violation> {
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| is_true(context(c, "/privileged")))
        .map(name)
        .collect();
    (!bad.is_empty()).then(|| {
        Violation::new(
            "privileged",
            format!(
                "{} must not set securityContext.privileged=true",
                containers_phrase(&bad)
            ),
        )
    })
}

/// "/proc Mount Type": Default only.
pub fn proc_mount(pod: &Pod) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut kinds = BTreeSet::new();
    for c in pod.containers() {
        if let Some(kind) = context(c, "/procMount") {
            let kind = kind.as_str().unwrap_or_default();
            if kind != "Default" {
                bad.push(name(c));
                kinds.insert(kind.to_string());
            }
        }
    }
    if bad.is_empty() {
        return None;
    }
    let kinds: Vec<String> = kinds.into_iter().collect();
    Some(Violation::new(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad),
            join_quote(&kinds)
        ),
    ))
}

/// What is wrong with the SELinux options seen so far.
#[derive(Default)]
struct SeLinuxFindings {
    types: BTreeSet<String>,
    user: bool,
    role: bool,
}

impl SeLinuxFindings {
    /// Records `options`; whether they are allowed.
    fn allowed(&mut self, options: &Value) -> bool {
        let field = |k: &str| options.get(k).and_then(Value::as_str).unwrap_or_default();
        let mut ok = true;
        if !SELINUX_TYPES.contains(&field("type")) {
            ok = false;
            self.types.insert(field("type").to_string());
        }
        if !field("user").is_empty() {
            ok = false;
            self.user = true;
        }
        if !field("role").is_empty() {
            ok = false;
            self.role = true;
        }
        ok
    }
}

/// "SELinux": only container types, and no custom user or role.
pub fn se_linux_options(pod: &Pod) -> Option<Violation> {
    let mut findings = SeLinuxFindings::default();
    let mut setters = Vec::new();
    if let Some(options) = pod.context("/seLinuxOptions")
        && !findings.allowed(options)
    {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| context(c, "/seLinuxOptions").is_some_and(|o| !findings.allowed(o)))
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !findings.types.is_empty() {
        let types: Vec<&String> = findings.types.iter().collect();
        data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if findings.user {
        data.push("user may not be set".to_string());
    }
    if findings.role {
        data.push("role may not be set".to_string());
    }
    Some(Violation::new(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
    ))
}

/// Who sets a seccomp profile other than RuntimeDefault or Localhost, and which types:
/// `(["pod", "container \"c\""], ["Unconfined"])`.
pub fn bad_seccomp_setters(pod: &Pod) -> (Vec<String>, Vec<String>) {
    let mut setters = Vec::new();
    let mut types = BTreeSet::new();
    if let Some(profile) = pod.context("/seccompProfile") {
        let kind = profile_type(profile);
        if !confining_seccomp(&kind) {
            setters.push("pod".to_string());
            types.insert(kind);
        }
    }
    let mut bad = Vec::new();
    for c in pod.containers() {
        if let Some(profile) = context(c, "/seccompProfile") {
            let kind = profile_type(profile);
            if !confining_seccomp(&kind) {
                bad.push(name(c));
                types.insert(kind);
            }
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    (setters, types.into_iter().collect())
}

/// The violation for explicitly unconfined seccomp profiles.
pub fn seccomp_setters_violation(setters: &[String], types: &[String]) -> Violation {
    Violation::new(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(types)
        ),
    )
}

/// "Seccomp": not explicitly Unconfined.
pub fn seccomp_profile(pod: &Pod) -> Option<Violation> {
    let (setters, types) = bad_seccomp_setters(pod);
    (!setters.is_empty()).then(|| seccomp_setters_violation(&setters, &types))
}

/// "Sysctls": only the safe set.
pub fn sysctls(pod: &Pod) -> Option<Violation> {
    let bad: Vec<&str> = pod
        .context("/sysctls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| s.get("name").and_then(Value::as_str).unwrap_or_default())
        .filter(|n| !SAFE_SYSCTLS.contains(n))
        .collect();
    (!bad.is_empty()).then(|| Violation::new("forbidden sysctls", bad.join(", ")))
}

/// "HostProcess": no Windows host-process pods or containers.
pub fn windows_host_process(pod: &Pod) -> Option<Violation> {
    let mut setters = Vec::new();
    if is_true(pod.context("/windowsOptions/hostProcess")) {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| is_true(context(c, "/windowsOptions/hostProcess")))
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    (!setters.is_empty()).then(|| {
        Violation::new(
            "hostProcess",
            format!(
                "{} must not set securityContext.windowsOptions.hostProcess=true",
                setters.join(" and ")
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

    // Baseline "Host Namespaces".
    #[test]
    fn host_namespaces_are_forbidden() {
        let pod = json!({"spec": {"hostNetwork": true, "hostIPC": true, "hostPID": false, "containers": []}});
        assert_eq!(
            run(host_namespaces, pod).as_deref(),
            Some("host namespaces (hostNetwork=true, hostIPC=true)")
        );
        assert_eq!(
            run(host_namespaces, json!({"spec": {"hostNetwork": false}})),
            None
        );
    }

    // Baseline "Privileged Containers".
    #[test]
    fn privileged_containers_are_forbidden() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "i", "securityContext": {"privileged": true}}],
            "containers": [{"name": "a", "securityContext": {"privileged": true}},
                           {"name": "b", "securityContext": {"privileged": false}}]
        }});
        assert_eq!(
            run(privileged, pod).as_deref(),
            Some(
                "privileged (containers \"i\", \"a\" must not set securityContext.privileged=true)"
            )
        );
        assert_eq!(
            run(privileged, with_context(json!({"privileged": false}))),
            None
        );
    }

    // Baseline "Capabilities".
    #[test]
    fn only_default_capabilities_may_be_added() {
        assert_eq!(
            run(
                capabilities,
                with_context(json!({"capabilities": {"add": ["SYS_ADMIN", "CHOWN", "NET_ADMIN"]}}))
            )
            .as_deref(),
            Some(
                "non-default capabilities (container \"c\" must not include \"NET_ADMIN\", \"SYS_ADMIN\" in securityContext.capabilities.add)"
            )
        );
        assert_eq!(
            run(
                capabilities,
                with_context(
                    json!({"capabilities": {"add": ["NET_BIND_SERVICE", "KILL"], "drop": ["ALL"]}})
                )
            ),
            None
        );
        assert_eq!(run(capabilities, with_context(json!({}))), None);
    }

    // Baseline "HostPath Volumes".
    #[test]
    fn host_path_volumes_are_forbidden() {
        let pod = json!({"spec": {"volumes": [
            {"name": "root", "hostPath": {"path": "/"}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "logs", "hostPath": {"path": "/var/log"}}
        ]}});
        assert_eq!(
            run(host_path_volumes, pod).as_deref(),
            Some("hostPath volumes (volumes \"root\", \"logs\")")
        );
        assert_eq!(
            run(
                host_path_volumes,
                json!({"spec": {"volumes": [{"name": "t", "emptyDir": {}}]}})
            ),
            None
        );
    }

    // Baseline "Host Ports".
    #[test]
    fn host_ports_are_forbidden() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}, {"containerPort": 443, "hostPort": 8443}]},
            {"name": "b", "ports": [{"containerPort": 80, "hostPort": 0}]}
        ]}});
        assert_eq!(
            run(host_ports, pod).as_deref(),
            Some("hostPort (container \"a\" uses hostPorts 80, 8443)")
        );
        let pod = json!({"spec": {"containers": [
            {"name": "a", "ports": [{"hostPort": 80}]}, {"name": "b", "ports": [{"hostPort": 80}]}
        ]}});
        assert_eq!(
            run(host_ports, pod).as_deref(),
            Some("hostPort (containers \"a\", \"b\" use hostPort 80)")
        );
        assert_eq!(
            run(
                host_ports,
                json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}})
            ),
            None
        );
    }

    // Baseline "Host Probes / Lifecycle Hooks".
    #[test]
    fn probes_and_hooks_may_not_name_a_host() {
        let pod = json!({"spec": {"containers": [{"name": "a",
            "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}},
            "lifecycle": {"preStop": {"tcpSocket": {"host": "example.com", "port": 1}}}}]}});
        assert_eq!(
            run(host_probes_and_lifecycle, pod).as_deref(),
            Some(
                "probe or lifecycle host (container \"a\" uses probe or lifecycle hosts \"10.0.0.1\", \"example.com\")"
            )
        );
        let pod = json!({"spec": {"containers": [{"name": "a", "readinessProbe": {"httpGet": {"host": "", "port": 80}}}]}});
        assert_eq!(run(host_probes_and_lifecycle, pod), None);
    }

    // Baseline "AppArmor".
    #[test]
    fn app_armor_may_not_be_unconfined() {
        let pod = json!({"spec": {
            "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
            "containers": [{"name": "c", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]
        }});
        assert_eq!(
            run(app_armor_profile, pod).as_deref(),
            Some(
                "forbidden AppArmor profile (pod and container \"c\" must not set AppArmor profile type to \"Unconfined\")"
            )
        );
        let pod = json!({"metadata": {"annotations": {
            "container.apparmor.security.beta.kubernetes.io/c": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/d": "localhost/mine"
        }}, "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(
            run(app_armor_profile, pod).as_deref(),
            Some(
                "forbidden AppArmor profile (annotation must not set AppArmor profile type to \"container.apparmor.security.beta.kubernetes.io/c=\\\"unconfined\\\"\")"
            )
        );
        let ok = with_context(json!({"appArmorProfile": {"type": "RuntimeDefault"}}));
        assert_eq!(run(app_armor_profile, ok), None);
        let ok = with_context(
            json!({"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}),
        );
        assert_eq!(run(app_armor_profile, ok), None);
    }

    // Baseline "SELinux".
    #[test]
    fn se_linux_types_users_and_roles_are_restricted() {
        let pod = json!({"spec": {
            "securityContext": {"seLinuxOptions": {"type": "spc_t"}},
            "containers": [{"name": "c", "securityContext": {"seLinuxOptions": {"user": "root", "role": "sysadm_r"}}}]
        }});
        assert_eq!(
            run(se_linux_options, pod).as_deref(),
            Some(
                "seLinuxOptions (pod and container \"c\" set forbidden securityContext.seLinuxOptions: type \"spc_t\"; user may not be set; role may not be set)"
            )
        );
        let ok =
            with_context(json!({"seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"}}));
        assert_eq!(run(se_linux_options, ok), None);
    }

    // Baseline "/proc Mount Type".
    #[test]
    fn proc_mount_must_be_default() {
        assert_eq!(
            run(proc_mount, with_context(json!({"procMount": "Unmasked"}))).as_deref(),
            Some(
                "procMount (container \"c\" must not set securityContext.procMount to \"Unmasked\")"
            )
        );
        assert_eq!(
            run(proc_mount, with_context(json!({"procMount": "Default"}))),
            None
        );
    }

    // Baseline "Seccomp".
    #[test]
    fn seccomp_may_not_be_unconfined() {
        let pod = json!({"spec": {
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "c"}]
        }});
        assert_eq!(
            run(seccomp_profile, pod).as_deref(),
            Some(
                "seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")"
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
        assert_eq!(
            run(
                seccomp_profile,
                with_context(json!({"seccompProfile": {"type": "RuntimeDefault"}}))
            ),
            None
        );
        assert_eq!(run(seccomp_profile, with_context(json!({}))), None);
    }

    // Baseline "Sysctls".
    #[test]
    fn only_safe_sysctls() {
        let pod = json!({"spec": {"securityContext": {"sysctls": [
            {"name": "net.ipv4.tcp_syncookies", "value": "1"},
            {"name": "kernel.msgmax", "value": "1"},
            {"name": "net.core.somaxconn", "value": "1"}
        ]}}});
        assert_eq!(
            run(sysctls, pod).as_deref(),
            Some("forbidden sysctls (kernel.msgmax, net.core.somaxconn)")
        );
        let ok = json!({"spec": {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]}}});
        assert_eq!(run(sysctls, ok), None);
    }

    // Baseline "HostProcess".
    #[test]
    fn windows_host_process_is_forbidden() {
        let pod = json!({"spec": {
            "securityContext": {"windowsOptions": {"hostProcess": true}},
            "containers": [{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}},
                           {"name": "b", "securityContext": {"windowsOptions": {"hostProcess": true}}}]
        }});
        assert_eq!(
            run(windows_host_process, pod).as_deref(),
            Some(
                "hostProcess (pod and containers \"a\", \"b\" must not set securityContext.windowsOptions.hostProcess=true)"
            )
        );
        assert_eq!(
            run(
                windows_host_process,
                with_context(json!({"windowsOptions": {"hostProcess": false}}))
            ),
            None
        );
    }

    // Every check sees init and ephemeral containers.
    #[test]
    fn ephemeral_containers_are_checked() {
        let pod = json!({"spec": {"containers": [{"name": "c"}],
            "ephemeralContainers": [{"name": "debug", "securityContext": {"privileged": true}}]}});
        assert_eq!(
            run(privileged, pod).as_deref(),
            Some("privileged (container \"debug\" must not set securityContext.privileged=true)")
        );
    }
}
