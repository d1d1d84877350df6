//! The default controller plugins as `keel server` flags, for tests that need
//! ReplicaSets and Deployments to act.

use std::path::PathBuf;

use keel_plugin_artifacts as artifacts;

/// `--plugin` and `--plugin-spec` flags for the default controllers; `overrides` replaces
/// a controller's spec file.
pub fn controller_flags(overrides: &[(&str, PathBuf)]) -> Vec<String> {
    [
        ("replicaset", artifacts::REPLICASET),
        ("deployment", artifacts::DEPLOYMENT),
        ("garbage-collector", artifacts::GARBAGE_COLLECTOR),
        ("node-lifecycle", artifacts::NODE_LIFECYCLE),
        ("node-ipam", artifacts::NODE_IPAM),
    ]
    .iter()
    .flat_map(|(name, path)| {
        let spec = overrides
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| artifacts::deploy_spec(name), |(_, p)| p.clone());
        [
            "--plugin".to_string(),
            format!("{name}=controller:{path}"),
            "--plugin-spec".to_string(),
            format!("{name}={}", spec.display()),
        ]
    })
    .collect()
}
