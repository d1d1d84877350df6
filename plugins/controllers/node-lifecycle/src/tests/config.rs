//! The configuration: Kubernetes' defaults, camelCase JSON, and a refused configuration.

use keel_sdk::controller::Reconciler;

use crate::NodeLifecycle;
use crate::config::Config;

#[test]
fn unset_configuration_takes_kubernetes_defaults() -> Result<(), String> {
    let config = Config::parse("null").map_err(|e| e.message)?;
    assert_eq!(config.node_monitor_grace_period_seconds, 40);
    assert_eq!(config.default_toleration_seconds, 300);
    assert_eq!(config.node_monitor_period_seconds, 5);
    assert_eq!(Config::parse("{}").map_err(|e| e.message)?, config);
    Ok(())
}

#[test]
fn fields_are_camel_case() -> Result<(), String> {
    let config = Config::parse(
        r#"{"nodeMonitorGracePeriodSeconds": 50, "defaultTolerationSeconds": 60,
            "nodeMonitorPeriodSeconds": 2}"#,
    )
    .map_err(|e| e.message)?;
    assert_eq!(config.grace_millis(), 50_000);
    assert_eq!(config.default_toleration_seconds, 60);
    assert_eq!(config.period_millis(), 2_000);
    Ok(())
}

#[test]
fn a_malformed_configuration_is_refused() {
    assert!(NodeLifecycle::new(r#"{"nodeMonitorGracePeriodSeconds": "forty"}"#).is_err());
}
