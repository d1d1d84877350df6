//! The configuration: default kinds, camelCase JSON, and a refused configuration.

use keel_sdk::controller::Reconciler;

use crate::GarbageCollector;
use crate::config::{Config, ManagedKind};

#[test]
fn unset_configuration_manages_the_default_kinds() -> Result<(), String> {
    let config = Config::parse("null").map_err(|e| e.message)?;
    assert_eq!(config.kinds.len(), 13);
    assert!(config.manages("", "Pod"));
    assert!(config.manages("apps", "ControllerRevision"));
    assert!(config.manages("batch", "Job"));
    assert!(config.manages("coordination.k8s.io", "Lease"));
    assert!(!config.manages("", "Node"));
    assert_eq!(Config::parse("{}").map_err(|e| e.message)?, config);
    Ok(())
}

#[test]
fn configured_kinds_replace_the_defaults() -> Result<(), String> {
    let config =
        Config::parse(r#"{"kinds": [{"kind": "Pod"}, {"group": "apps", "kind": "ReplicaSet"}]}"#)
            .map_err(|e| e.message)?;
    assert_eq!(
        config.kinds,
        [
            ManagedKind::new("", "Pod"),
            ManagedKind::new("apps", "ReplicaSet")
        ]
    );
    Ok(())
}

#[test]
fn a_malformed_configuration_is_refused() {
    assert!(GarbageCollector::new(r#"{"kinds": "Pod"}"#).is_err());
}
