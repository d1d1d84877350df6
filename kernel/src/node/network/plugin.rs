//! The node's network plugin: the `Plugin` of type `network` first by `spec.order`, then
//! name, read through the API with its `PluginModule` objects, and loaded into this
//! agent's own plugin host, with the limits its spec declares. Each allocation reads the
//! Plugin again (one GET) and loads it anew when its spec changed, so a swapped plugin
//! serves the next pod; a version that does not load leaves the one loaded serving.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Mutex;

use crate::catalog::{MODULES_PATH, PLUGINS_PATH, modules};
use crate::client::http::ApiClient;
use crate::plugin::calls::{NodeNetwork, PodAddress, PodRef};
use crate::plugin::{CallStats, Plugin, PluginHost, PluginSpec, PluginType};

/// The network plugin, loaded on first use.
pub struct NetworkPlugin {
    client: Arc<ApiClient>,
    host: Arc<PluginHost>,
    loaded: Mutex<Option<Arc<Plugin>>>,
}

impl NetworkPlugin {
    /// A plugin read through `client`, its compiled code cached under `cache_dir`.
    pub fn new(client: Arc<ApiClient>, cache_dir: &Path) -> NetworkPlugin {
        NetworkPlugin {
            client,
            host: Arc::new(PluginHost::new(Some(cache_dir.to_path_buf()))),
            loaded: Mutex::new(None),
        }
    }

    /// `network.allocate` on the plugin serving now.
    pub async fn allocate(
        &self,
        node: NodeNetwork,
        pod: PodRef,
        in_use: &[Ipv4Addr],
    ) -> Result<PodAddress, String> {
        let plugin = self.current().await?;
        let in_use: Vec<String> = in_use.iter().map(ToString::to_string).collect();
        tokio::task::spawn_blocking(move || plugin.allocate(&node, &pod, &in_use))
            .await
            .map_err(|e| format!("the network plugin's call failed: {e}"))?
            .map_err(|e| e.to_string())
    }

    /// The plugin to call: the one loaded, or its new version.
    async fn current(&self) -> Result<Arc<Plugin>, String> {
        let (name, spec) = self.chosen().await?;
        let mut loaded = self.loaded.lock().await;
        if let Some(plugin) = loaded.as_ref()
            && plugin.name() == name
            && *plugin.spec() == spec
        {
            return Ok(plugin.clone());
        }
        let bytes = match self.module(&spec.module).await {
            Ok(bytes) => bytes,
            Err(error) => return Self::keep(&loaded, &name, error),
        };
        let host = self.host.clone();
        let owned = name.clone();
        let attempt = tokio::task::spawn_blocking(move || {
            host.load(&owned, spec, &bytes, Arc::new(CallStats::default()))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
        match attempt {
            Ok(plugin) => {
                tracing::info!(plugin = name, "network plugin loaded");
                let plugin = Arc::new(plugin);
                *loaded = Some(plugin.clone());
                Ok(plugin)
            }
            Err(error) => Self::keep(&loaded, &name, error),
        }
    }

    /// After a version that did not load: the one loaded, if any, goes on serving.
    fn keep(
        loaded: &Option<Arc<Plugin>>,
        name: &str,
        error: String,
    ) -> Result<Arc<Plugin>, String> {
        match loaded {
            Some(plugin) => {
                tracing::warn!(
                    plugin = name,
                    "network plugin not loaded, keeping {}: {error}",
                    plugin.name()
                );
                Ok(plugin.clone())
            }
            None => Err(format!("network plugin {name}: {error}")),
        }
    }

    /// The Plugin of type `network` that serves the node, and its spec.
    async fn chosen(&self) -> Result<(String, PluginSpec), String> {
        let list = self
            .client
            .get(PLUGINS_PATH)
            .await
            .map_err(|e| format!("cannot list plugins: {e}"))?;
        let mut candidates: Vec<(String, PluginSpec)> = list
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|object| {
                let name = object.pointer("/metadata/name")?.as_str()?.to_string();
                let spec = PluginSpec::from_object(object).ok()?;
                (spec.plugin_type == PluginType::Network).then_some((name, spec))
            })
            .collect();
        candidates.sort_by(|(a, x), (b, y)| x.order.cmp(&y.order).then_with(|| a.cmp(b)));
        candidates
            .into_iter()
            .next()
            .ok_or_else(|| "no Plugin of type network is installed".to_string())
    }

    /// The module `digest`, from its `PluginModule` objects, every digest checked.
    async fn module(&self, digest: &str) -> Result<Vec<u8>, String> {
        let mut fetched: HashMap<String, Value> = HashMap::new();
        let name = modules::object_name(digest);
        let module = self.module_object(&name).await?;
        let parts: Vec<String> = module
            .pointer("/spec/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        fetched.insert(name, module);
        for part in parts {
            let object = self.module_object(&part).await?;
            fetched.insert(part, object);
        }
        modules::assemble(digest, |n| fetched.get(n).cloned())
    }

    async fn module_object(&self, name: &str) -> Result<Value, String> {
        self.client
            .get(&format!("{MODULES_PATH}/{name}"))
            .await
            .map_err(|e| format!("cannot read PluginModule {name}: {e}"))
    }
}
