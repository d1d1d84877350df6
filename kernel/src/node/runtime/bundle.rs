//! The OCI runtime configuration (`config.json`) of one container run, built with
//! `oci-spec` from the container's spec and its image's configuration, as a CRI runtime
//! builds it for Kubernetes:
//!
//! - the command line by Kubernetes' rule: `command` replaces the image's `Entrypoint`,
//!   `args` its `Cmd`;
//! - the image's environment, then the container's (a name set in both takes the
//!   container's value); `workingDir`, else the image's, else `/`;
//! - the image's user (numeric `uid[:gid]`);
//! - its own pid, ipc, uts, mount and cgroup namespaces, and the pod's network namespace
//!   (the host's when the pod has none);
//! - containerd's default capabilities; every device denied but the defaults runc adds;
//! - `limits.memory` as the cgroup's memory limit and `limits.cpu` as a CFS quota;
//! - each volume as a bind mount, read-only when the mount says so.

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxResourcesBuilder, MountBuilder, ProcessBuilder, RootBuilder, Spec, UserBuilder,
};

use super::ContainerSpec;

/// The CFS period a CPU limit is a quota of, in microseconds (Kubernetes' default).
pub const CPU_PERIOD_MICROS: u64 = 100_000;

/// The search path a container gets when its image sets none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The capabilities containerd grants a container that asks for none.
const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Where a run lives.
pub struct Placement<'a> {
    /// The container's hostname (the pod's name).
    pub hostname: &'a str,
    /// The cgroup path of the run.
    pub cgroups_path: &'a str,
    /// The pod's network namespace, `None` for the host's.
    pub network_namespace: Option<&'a str>,
}

/// The command line of a container, by Kubernetes' rule.
pub fn argv(
    command: &[String],
    args: &[String],
    entrypoint: &[String],
    cmd: &[String],
) -> Vec<String> {
    let (program, arguments) = match (command.is_empty(), args.is_empty()) {
        (false, _) => (command, args),
        (true, false) => (entrypoint, args),
        (true, true) => (entrypoint, cmd),
    };
    program.iter().chain(arguments).cloned().collect()
}

/// The image's environment with the container's on top.
pub fn environment(image: &[String], container: &[(String, String)]) -> Vec<String> {
    let mut env: Vec<(String, String)> = image
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => (pair.clone(), String::new()),
        })
        .collect();
    for (name, value) in container {
        match env.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.clone(),
            None => env.push((name.clone(), value.clone())),
        }
    }
    let mut env: Vec<String> = env.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    if !env.iter().any(|pair| pair.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    env
}

/// The uid and gid of an image's `User`: `uid`, `uid:gid`, or empty for root.
pub fn user(text: &str) -> Result<(u32, u32), String> {
    let text = text.trim();
    if text.is_empty() || text == "root" {
        return Ok((0, 0));
    }
    let (uid, gid) = text.split_once(':').unwrap_or((text, ""));
    let number = |part: &str| {
        part.parse::<u32>().map_err(|_| {
            format!("image user {text:?}: only numeric users (uid or uid:gid) are supported")
        })
    };
    let uid = number(uid)?;
    let gid = if gid.is_empty() { uid } else { number(gid)? };
    Ok((uid, gid))
}

/// The run's `config.json`.
pub fn config(
    spec: &ContainerSpec,
    image: &ImageConfiguration,
    placement: &Placement<'_>,
) -> Result<Spec, String> {
    let image_config = image.config().clone().unwrap_or_default();
    let list = |field: &Option<Vec<String>>| field.clone().unwrap_or_default();
    let argv = argv(
        &spec.command,
        &spec.args,
        &list(image_config.entrypoint()),
        &list(image_config.cmd()),
    );
    if argv.is_empty() {
        return Err("no command: the container gives none and neither does its image".into());
    }
    let cwd = spec
        .working_dir
        .clone()
        .or_else(|| image_config.working_dir().clone())
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| "/".into());
    let (uid, gid) = user(image_config.user().as_deref().unwrap_or_default())?;
    let built = |what: &str, e: oci_spec::OciSpecError| format!("{what}: {e}");
    let capabilities = DEFAULT_CAPABILITIES
        .into_iter()
        .collect::<std::collections::HashSet<_>>();
    let process = ProcessBuilder::default()
        .terminal(false)
        .args(argv)
        .env(environment(&list(image_config.env()), &spec.env))
        .cwd(cwd)
        .user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .build()
                .map_err(|e| built("user", e))?,
        )
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(capabilities.clone())
                .effective(capabilities.clone())
                .permitted(capabilities)
                .build()
                .map_err(|e| built("capabilities", e))?,
        )
        .no_new_privileges(false)
        .build()
        .map_err(|e| built("process", e))?;

    let mut resources = LinuxResourcesBuilder::default().devices(vec![
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .map_err(|e| built("devices", e))?,
    ]);
    if let Some(bytes) = spec.memory_bytes {
        let limit =
            i64::try_from(bytes).map_err(|_| format!("memory limit {bytes} is too large"))?;
        resources = resources.memory(
            LinuxMemoryBuilder::default()
                .limit(limit)
                .build()
                .map_err(|e| built("memory", e))?,
        );
    }
    if let Some(millis) = spec.cpu_millis {
        let quota = i64::try_from(millis.saturating_mul(CPU_PERIOD_MICROS) / 1000)
            .map_err(|_| format!("cpu limit {millis}m is too large"))?;
        resources = resources.cpu(
            LinuxCpuBuilder::default()
                .quota(quota.max(1000))
                .period(CPU_PERIOD_MICROS)
                .build()
                .map_err(|e| built("cpu", e))?,
        );
    }
    let namespaces = namespaces(placement.network_namespace).map_err(|e| built("namespaces", e))?;
    let linux = LinuxBuilder::default()
        .resources(resources.build().map_err(|e| built("resources", e))?)
        .cgroups_path(placement.cgroups_path)
        .namespaces(namespaces)
        .masked_paths(oci_spec::runtime::get_default_maskedpaths())
        .readonly_paths(oci_spec::runtime::get_default_readonly_paths())
        .build()
        .map_err(|e| built("linux", e))?;

    let mut config = Spec::default();
    let mut mounts = config.mounts().clone().unwrap_or_default();
    for mount in &spec.mounts {
        let access = if mount.read_only { "ro" } else { "rw" };
        mounts.push(
            MountBuilder::default()
                .destination(&mount.container_path)
                .typ("bind")
                .source(&mount.host_path)
                .options(vec![
                    "rbind".to_string(),
                    "rprivate".to_string(),
                    access.to_string(),
                ])
                .build()
                .map_err(|e| built("mount", e))?,
        );
    }
    config.set_mounts(Some(mounts));
    config
        .set_process(Some(process))
        .set_root(Some(
            RootBuilder::default()
                .path("rootfs")
                .readonly(false)
                .build()
                .map_err(|e| built("root", e))?,
        ))
        .set_hostname(Some(placement.hostname.to_string()))
        .set_linux(Some(linux));
    Ok(config)
}

fn namespaces(network: Option<&str>) -> Result<Vec<LinuxNamespace>, oci_spec::OciSpecError> {
    let own = |typ| LinuxNamespaceBuilder::default().typ(typ).build();
    let mut list = vec![
        own(LinuxNamespaceType::Pid)?,
        own(LinuxNamespaceType::Ipc)?,
        own(LinuxNamespaceType::Uts)?,
        own(LinuxNamespaceType::Mount)?,
        own(LinuxNamespaceType::Cgroup)?,
    ];
    if let Some(path) = network {
        list.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(path)
                .build()?,
        );
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::logs::ContainerLogs;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_and_args_replace_entrypoint_and_cmd_as_kubernetes_says() {
        // https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/#notes
        let entrypoint = strings(&["/bin/entry"]);
        let cmd = strings(&["--default"]);
        let none: Vec<String> = Vec::new();
        assert_eq!(
            argv(&none, &none, &entrypoint, &cmd),
            strings(&["/bin/entry", "--default"])
        );
        assert_eq!(
            argv(&strings(&["/bin/other"]), &none, &entrypoint, &cmd),
            strings(&["/bin/other"])
        );
        assert_eq!(
            argv(&none, &strings(&["-x"]), &entrypoint, &cmd),
            strings(&["/bin/entry", "-x"])
        );
        assert_eq!(
            argv(
                &strings(&["/bin/other"]),
                &strings(&["-x"]),
                &entrypoint,
                &cmd
            ),
            strings(&["/bin/other", "-x"])
        );
    }

    #[test]
    fn the_container_environment_overrides_the_image() {
        let env = environment(
            &strings(&["PATH=/bin", "MODE=image"]),
            &[("MODE".into(), "pod".into()), ("EXTRA".into(), "1".into())],
        );
        assert_eq!(env, strings(&["PATH=/bin", "MODE=pod", "EXTRA=1"]));
        assert!(environment(&[], &[])[0].starts_with("PATH=/usr/local/sbin"));
    }

    #[test]
    fn users_are_numeric() {
        assert_eq!(user(""), Ok((0, 0)));
        assert_eq!(user("1000"), Ok((1000, 1000)));
        assert_eq!(user("1000:50"), Ok((1000, 50)));
        assert!(user("nobody").is_err_and(|e| e.contains("numeric")));
    }

    #[test]
    fn limits_become_cgroup_settings_and_the_pod_network_is_joined() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let logs = ContainerLogs::in_pod_dir(dir.path(), "app");
        let spec = ContainerSpec {
            id: "uid-app-0".into(),
            name: "app".into(),
            image: "busybox".into(),
            command: strings(&["sh", "-c", "true"]),
            args: Vec::new(),
            working_dir: Some("/work".into()),
            hostname: "web-1".into(),
            network_namespace: None,
            mounts: vec![crate::node::volumes::Mount {
                host_path: "/node/pods/x/.volumes/config".into(),
                container_path: "/etc/app".into(),
                read_only: true,
            }],
            env: vec![("A".into(), "1".into())],
            cpu_millis: Some(250),
            memory_bytes: Some(64 << 20),
            log: logs.open_run(0).unwrap_or_else(|e| panic!("{e}")),
        };
        let image: ImageConfiguration = serde_json::from_value(serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let placement = Placement {
            hostname: &spec.hostname,
            cgroups_path: "/keel/uid-app-0",
            network_namespace: Some("/var/run/netns/keel-uid"),
        };
        let config = config(&spec, &image, &placement).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_value(&config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json["process"]["args"],
            serde_json::json!(["sh", "-c", "true"])
        );
        assert_eq!(json["process"]["cwd"], "/work");
        assert_eq!(
            json["process"]["env"],
            serde_json::json!(["PATH=/bin", "A=1"])
        );
        assert_eq!(json["hostname"], "web-1");
        assert_eq!(json["root"]["readonly"], false);
        let volume = json["mounts"]
            .as_array()
            .and_then(|list| list.iter().find(|m| m["destination"] == "/etc/app"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(volume["source"], "/node/pods/x/.volumes/config");
        assert_eq!(
            volume["options"],
            serde_json::json!(["rbind", "rprivate", "ro"])
        );
        let resources = &json["linux"]["resources"];
        assert_eq!(resources["memory"]["limit"], 64 << 20);
        assert_eq!(resources["cpu"]["quota"], 25_000);
        assert_eq!(resources["cpu"]["period"], 100_000);
        let network = json["linux"]["namespaces"]
            .as_array()
            .and_then(|list| list.iter().find(|n| n["type"] == "network"))
            .cloned();
        assert_eq!(
            network
                .and_then(|n| n["path"].as_str().map(str::to_string))
                .as_deref(),
            Some("/var/run/netns/keel-uid")
        );
        let host_network = super::config(
            &spec,
            &image,
            &Placement {
                network_namespace: None,
                ..placement
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_value(&host_network).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            json["linux"]["namespaces"]
                .as_array()
                .is_some_and(|list| list.iter().all(|n| n["type"] != "network")),
            "without a pod network namespace the host's is used"
        );
    }
}
