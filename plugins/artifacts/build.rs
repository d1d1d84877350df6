//! Builds every plugin in the workspace for `wasm32-wasip2` with a nested cargo (its own
//! target directory, so it never waits on the outer build's lock), and the Python plugin
//! with componentize-py, and writes a constant with each component's path to
//! `$OUT_DIR/artifacts.rs`.

use std::env;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (constant, package) for every plugin the tests and benchmarks load.
const PLUGINS: &[(&str, &str)] = &[
    ("IMAGE_POLICY", "keel-plugin-image-policy"),
    ("SCHEMA", "keel-plugin-schema"),
    ("POD_SECURITY", "keel-plugin-pod-security"),
    ("NAMESPACE_LIFECYCLE", "keel-plugin-namespace-lifecycle"),
    ("LIMIT_RANGER", "keel-plugin-limit-ranger"),
    ("RESOURCE_QUOTA", "keel-plugin-resource-quota"),
    ("HOST_LOCAL", "keel-plugin-host-local"),
    ("ROOT_CA_PUBLISHER", "keel-plugin-root-ca-publisher"),
    ("REPLICASET", "keel-plugin-replicaset"),
    ("DEPLOYMENT", "keel-plugin-deployment"),
    ("GARBAGE_COLLECTOR", "keel-plugin-garbage-collector"),
    ("NODE_LIFECYCLE", "keel-plugin-node-lifecycle"),
    ("NODE_IPAM", "keel-plugin-node-ipam"),
    ("NODE_RESOURCES", "keel-plugin-node-resources"),
    ("NODE_NAME", "keel-plugin-node-name"),
    ("NODE_UNSCHEDULABLE", "keel-plugin-node-unschedulable"),
    ("NODE_AFFINITY", "keel-plugin-node-affinity"),
    ("TAINT_TOLERATION", "keel-plugin-taint-toleration"),
    ("INTER_POD_AFFINITY", "keel-plugin-inter-pod-affinity"),
    ("POD_TOPOLOGY_SPREAD", "keel-plugin-pod-topology-spread"),
    ("BALANCED_ALLOCATION", "keel-plugin-balanced-allocation"),
    ("ECHO", "keel-plugin-echo"),
    ("HOSTILE", "keel-plugin-hostile"),
    ("FUTURE_CONTRACT", "keel-plugin-future-contract"),
    // Not a plugin: a WASI command the node agent runs as a container.
    ("WORKLOAD", "keel-testing-workload"),
];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .ok_or("plugins/artifacts has no workspace root")?;
    for watched in ["wit", "sdk", "plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    // Checkouts share one target directory (scripts/env.sh), and the paths above are this
    // checkout's: a build from another checkout must run this script again.
    println!("cargo:rerun-if-env-changed=KEEL_CHECKOUT");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: share one directory per profile.
    let target_dir = out_dir
        .ancestors()
        .nth(3)
        .unwrap_or(&out_dir)
        .join("wasm-plugins");

    let mut cargo = Command::new(env::var("CARGO")?);
    cargo
        .current_dir(root)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        // Components ship without debug info: smaller to push, faster to compile.
        .args([
            "--config",
            "profile.release.debug=false",
            "--config",
            "profile.release.strip=true",
            "--config",
            "profile.release.lto=true",
            "--config",
            "profile.release.codegen-units=1",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for (_, package) in PLUGINS {
        cargo.args(["-p", package]);
    }
    // The outer build's settings are not the nested one's: clippy's wrapper, rustflags meant
    // for the host, an explicit target directory.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
    ] {
        cargo.env_remove(var);
    }
    let status = cargo.status()?;
    if !status.success() {
        return Err(format!("building the plugins for wasm32-wasip2 failed ({status}); is the target installed (scripts/setup.sh)?").into());
    }

    let python = target_dir.join("python/image_policy_py.wasm");
    let status = Command::new("bash")
        .arg(root.join("scripts/build-python-plugin.sh"))
        .arg(root.join("plugins/admission/image-policy-py"))
        .arg("admission-plugin")
        .arg(&python)
        .status()?;
    if !status.success() {
        return Err(format!("building the Python plugin failed ({status})").into());
    }

    let mut constants = String::new();
    writeln!(
        constants,
        "/// The component built from `plugins/admission/image-policy-py` (Python, componentize-py)."
    )?;
    writeln!(
        constants,
        "pub const IMAGE_POLICY_PY: &str = {:?};",
        python.display().to_string()
    )?;
    for (constant, package) in PLUGINS {
        let path = component_path(&target_dir, package);
        if !path.exists() {
            return Err(format!("{} was not built", path.display()).into());
        }
        writeln!(constants, "/// The component built from `{package}`.")?;
        writeln!(
            constants,
            "pub const {constant}: &str = {:?};",
            path.display().to_string()
        )?;
    }
    std::fs::write(out_dir.join("artifacts.rs"), constants)?;
    Ok(())
}

fn component_path(target_dir: &Path, package: &str) -> PathBuf {
    target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}
