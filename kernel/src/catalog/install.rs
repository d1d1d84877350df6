//! What a cluster starts with: plugins named on the command line (`--plugin
//! NAME=TYPE[/WEIGHT]:PATH`), stored as modules and created as Plugins when absent. An existing
//! Plugin is left as it is, so an admin's changes survive restarts.

use std::path::PathBuf;

use serde_json::json;

use super::modules;
use crate::object::resource::KEEL_GROUP;
use crate::plugin::PluginType;
use crate::registry::{ApiError, Objects, WriteOptions};

/// A plugin a cluster starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSeed {
    /// The Plugin's name.
    pub name: String,
    /// Its type.
    pub plugin_type: PluginType,
    /// The component file.
    pub path: PathBuf,
    /// `spec.weight` (a scheduler plugin's score weight); none: the default.
    pub weight: Option<u32>,
}

impl std::str::FromStr for PluginSeed {
    type Err = String;

    /// Parses `NAME=TYPE[/WEIGHT]:PATH` (`image-policy=admission:/path/image_policy.wasm`,
    /// `taint-toleration=scheduler/3:/path/taint_toleration.wasm`).
    fn from_str(text: &str) -> Result<PluginSeed, String> {
        let usage = || {
            format!(
                "{text:?} is not NAME=TYPE[/WEIGHT]:PATH (TYPE: scheduler, admission, controller or network; WEIGHT a number)"
            )
        };
        let (name, rest) = text.split_once('=').ok_or_else(usage)?;
        let (plugin_type, path) = rest.split_once(':').ok_or_else(usage)?;
        let (plugin_type, weight) = match plugin_type.split_once('/') {
            Some((plugin_type, weight)) => (
                plugin_type,
                Some(weight.parse::<u32>().map_err(|_| usage())?),
            ),
            None => (plugin_type, None),
        };
        let plugin_type = [
            PluginType::Scheduler,
            PluginType::Admission,
            PluginType::Controller,
            PluginType::Network,
        ]
        .into_iter()
        .find(|t| t.interface().eq_ignore_ascii_case(plugin_type))
        .ok_or_else(usage)?;
        if name.is_empty() || path.is_empty() {
            return Err(usage());
        }
        Ok(PluginSeed {
            name: name.to_string(),
            plugin_type,
            path: PathBuf::from(path),
            weight,
        })
    }
}

/// Stores `bytes` as PluginModule objects (those already stored are kept); answers the
/// module's digest.
pub async fn store_module(objects: &Objects, bytes: &[u8]) -> Result<String, ApiError> {
    let kind = objects
        .kinds()
        .by_path(KEEL_GROUP, "v1alpha1", "pluginmodules")
        .ok_or_else(|| ApiError::Internal("pluginmodules are not served".into()))?;
    let (digest, parts) = modules::objects_for(bytes);
    for object in parts {
        match objects
            .create(kind, None, object, WriteOptions::default())
            .await
        {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(digest)
}

/// Stores each seed's module and creates its Plugin unless one by that name exists. Seeds
/// run in the order given (`spec.order` 10, 20, ...), which is the admission chain's order.
pub async fn install(objects: &Objects, seeds: &[PluginSeed]) -> anyhow::Result<()> {
    let plugins = objects
        .kinds()
        .by_path(KEEL_GROUP, "v1alpha1", "plugins")
        .ok_or_else(|| anyhow::anyhow!("plugins are not served"))?;
    for (position, seed) in seeds.iter().enumerate() {
        let order = 10 * (position as i64 + 1);
        let bytes = std::fs::read(&seed.path).map_err(|e| {
            anyhow::anyhow!(
                "plugin {}: cannot read {}: {e}",
                seed.name,
                seed.path.display()
            )
        })?;
        let digest = store_module(objects, &bytes).await?;
        let mut plugin = json!({
            "apiVersion": format!("{KEEL_GROUP}/v1alpha1"),
            "kind": "Plugin",
            "metadata": {"name": seed.name},
            "spec": {"type": seed.plugin_type, "module": digest, "order": order},
        });
        if let (Some(weight), Some(spec)) = (seed.weight, plugin["spec"].as_object_mut()) {
            spec.insert("weight".into(), weight.into());
        }
        match objects
            .create(plugins, None, plugin, WriteOptions::default())
            .await
        {
            Ok(_) => tracing::info!(plugin = seed.name, module = digest, "plugin installed"),
            Err(ApiError::AlreadyExists { .. }) => {
                tracing::info!(plugin = seed.name, "plugin exists; left as it is")
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_and_bad_ones_say_what_is_expected() {
        let seed: Result<PluginSeed, _> = "images=Admission:/p/image_policy.wasm".parse();
        assert_eq!(
            seed,
            Ok(PluginSeed {
                name: "images".into(),
                plugin_type: PluginType::Admission,
                path: "/p/image_policy.wasm".into(),
                weight: None,
            })
        );
        let weighted: Result<PluginSeed, _> = "taints=scheduler/3:/p/t.wasm".parse();
        assert_eq!(weighted.map(|s| s.weight), Ok(Some(3)));
        for bad in [
            "taints=scheduler/x:/p/t.wasm",
            "images",
            "images=admission",
            "images=gardening:/p.wasm",
            "=admission:/p.wasm",
            "images=admission:",
        ] {
            let error = bad.parse::<PluginSeed>().err().unwrap_or_default();
            assert!(error.contains("NAME=TYPE[/WEIGHT]:PATH"), "{bad}: {error}");
        }
    }
}
