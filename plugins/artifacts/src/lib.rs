//! Paths to Keel's plugins built from source as WebAssembly components (`build.rs` runs the
//! nested `cargo build --target wasm32-wasip2`). Tests and benchmarks load them from here; no
//! `.wasm` binary is committed.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// The repository's spec fields for plugin `name`, as `keel up` gives them
/// (`deploy/plugins/NAME.yaml`, for `--plugin-spec`).
pub fn deploy_spec(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/plugins")
        .join(format!("{name}.yaml"))
}

/// The default admission chain in `keel up`'s order (`scripts/up.sh`): each plugin's name,
/// its component, and whether `deploy/plugins/` has spec fields for it ([`deploy_spec`]).
pub const ADMISSION_CHAIN: [(&str, &str, bool); 6] = [
    ("schema", SCHEMA, false),
    ("namespace-lifecycle", NAMESPACE_LIFECYCLE, false),
    ("limit-ranger", LIMIT_RANGER, true),
    ("pod-security", POD_SECURITY, false),
    ("image-policy", IMAGE_POLICY, false),
    ("resource-quota", RESOURCE_QUOTA, true),
];

/// Every component, by constant name, for tests that walk them all.
pub fn all() -> [(&'static str, &'static str); 23] {
    [
        ("image-policy", IMAGE_POLICY),
        ("schema", SCHEMA),
        ("pod-security", POD_SECURITY),
        ("namespace-lifecycle", NAMESPACE_LIFECYCLE),
        ("limit-ranger", LIMIT_RANGER),
        ("resource-quota", RESOURCE_QUOTA),
        ("host-local", HOST_LOCAL),
        ("root-ca-publisher", ROOT_CA_PUBLISHER),
        ("replicaset", REPLICASET),
        ("deployment", DEPLOYMENT),
        ("garbage-collector", GARBAGE_COLLECTOR),
        ("node-lifecycle", NODE_LIFECYCLE),
        ("node-resources", NODE_RESOURCES),
        ("node-name", NODE_NAME),
        ("node-unschedulable", NODE_UNSCHEDULABLE),
        ("node-affinity", NODE_AFFINITY),
        ("taint-toleration", TAINT_TOLERATION),
        ("inter-pod-affinity", INTER_POD_AFFINITY),
        ("pod-topology-spread", POD_TOPOLOGY_SPREAD),
        ("balanced-allocation", BALANCED_ALLOCATION),
        ("echo", ECHO),
        ("hostile", HOSTILE),
        ("future-contract", FUTURE_CONTRACT),
    ]
}
