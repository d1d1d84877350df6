//! Paths to Keel's plugins built from source as WebAssembly components (`build.rs` runs the
//! nested `cargo build --target wasm32-wasip2`). Tests and benchmarks load them from here; no
//! `.wasm` binary is committed.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// Every component, by constant name, for tests that walk them all.
pub fn all() -> [(&'static str, &'static str); 12] {
    [
        ("image-policy", IMAGE_POLICY),
        ("schema", SCHEMA),
        ("pod-security", POD_SECURITY),
        ("namespace-lifecycle", NAMESPACE_LIFECYCLE),
        ("limit-ranger", LIMIT_RANGER),
        ("resource-quota", RESOURCE_QUOTA),
        ("host-local", HOST_LOCAL),
        ("root-ca-publisher", ROOT_CA_PUBLISHER),
        ("node-resources", NODE_RESOURCES),
        ("echo", ECHO),
        ("hostile", HOSTILE),
        ("future-contract", FUTURE_CONTRACT),
    ]
}
