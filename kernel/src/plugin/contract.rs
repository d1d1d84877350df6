//! The contract check made when a module loads: the component must speak this host's
//! `keel:plugin` version and export the interface its Plugin's type needs.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;
use super::spec::PluginType;

/// The contract version this host implements: the package version in `wit/plugin.wit`.
pub const CONTRACT_VERSION: &str = "0.2.0";

const PACKAGE: &str = "keel:plugin/";

/// Checks `component` against the contract for a plugin of type `plugin_type`.
pub fn check(
    engine: &Engine,
    component: &Component,
    plugin_type: PluginType,
) -> Result<(), LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    for name in exports.iter().chain(&imports) {
        let Some((_, version)) = name
            .strip_prefix(PACKAGE)
            .and_then(|rest| rest.split_once('@'))
        else {
            continue;
        };
        if version != CONTRACT_VERSION {
            return Err(LoadError::ContractVersion {
                wants: version.to_string(),
                speaks: CONTRACT_VERSION.to_string(),
            });
        }
    }
    let wanted = format!("{PACKAGE}{}@{CONTRACT_VERSION}", plugin_type.interface());
    if !exports.contains(&wanted) {
        return Err(LoadError::WrongType {
            expected: plugin_type.interface().to_string(),
            version: CONTRACT_VERSION.to_string(),
            exports: exports.join(", "),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_version_is_the_wit_package_version() {
        let wit = include_str!("../../../wit/plugin.wit");
        let package = wit
            .lines()
            .find_map(|l| l.strip_prefix("package keel:plugin@"))
            .map(|v| v.trim_end_matches(';'));
        assert_eq!(package, Some(CONTRACT_VERSION));
    }
}
