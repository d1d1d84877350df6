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
    /// Further `spec` fields (a controller's `controller` section, `config`, limits), from
    /// `--plugin-spec NAME=FILE`.
    pub spec: Option<serde_json::Value>,
}

impl PluginSeed {
    /// Parses `NAME=FILE` (`--plugin-spec`) and reads FILE (YAML or JSON, a mapping of
    /// `spec` fields) into the seed of that name among `seeds`.
    pub fn add_spec(seeds: &mut [PluginSeed], text: &str) -> Result<(), String> {
        let (name, path) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not NAME=FILE"))?;
        let seed = seeds
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| format!("--plugin-spec {name}: no --plugin {name}=... to add it to"))?;
        let body = std::fs::read_to_string(path)
            .map_err(|e| format!("--plugin-spec {name}: cannot read {path}: {e}"))?;
        let spec: serde_json::Value = serde_yaml_ng::from_str(&body)
            .map_err(|e| format!("--plugin-spec {name}: {path} is not YAML or JSON: {e}"))?;
        if !spec.is_object() {
            return Err(format!(
                "--plugin-spec {name}: {path} must be a mapping of spec fields"
            ));
        }
        seed.spec = Some(spec);
        Ok(())
    }
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
            spec: None,
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
        if let Some(spec) = plugin["spec"].as_object_mut() {
            if let Some(serde_json::Value::Object(extra)) = &seed.spec {
                for (field, value) in extra {
                    spec.entry(field.clone()).or_insert_with(|| value.clone());
                }
            }
            if let Some(weight) = seed.weight {
                spec.insert("weight".into(), weight.into());
            }
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
                spec: None,
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

    #[test]
    fn a_spec_file_joins_the_seed_of_its_name() -> Result<(), String> {
        let dir = std::env::temp_dir().join(format!("keel-seed-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join("rs.yaml");
        std::fs::write(
            &file,
            "controller:\n  reconciles: [{group: apps, kind: ReplicaSet}]\n",
        )
        .map_err(|e| e.to_string())?;
        let mut seeds = vec!["rs=controller:/p/rs.wasm".parse::<PluginSeed>()?];
        PluginSeed::add_spec(&mut seeds, &format!("rs={}", file.display()))?;
        assert_eq!(
            seeds[0]
                .spec
                .as_ref()
                .and_then(|s| s.pointer("/controller/reconciles/0/kind")),
            Some(&serde_json::json!("ReplicaSet"))
        );
        let error = PluginSeed::add_spec(&mut seeds, &format!("other={}", file.display()));
        assert!(error.is_err_and(|e| e.contains("no --plugin other=")));
        let missing = PluginSeed::add_spec(&mut seeds, "rs=/nonexistent/spec.yaml");
        assert!(missing.is_err_and(|e| e.contains("cannot read")));
        std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())
    }
}
