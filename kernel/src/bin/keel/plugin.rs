//! `keel plugin`: push modules, create or update Plugins, list them, show a Plugin's
//! revision history and roll it back, all through the API.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use keel::catalog::{MODULES_PATH as MODULES, PLUGINS_PATH as PLUGINS, modules, status};
use keel::client::http::ApiClient;
use keel::oci;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Upload a module (a .wasm component, or an OCI image layout) and, with --name, point a
    /// Plugin at it (creating the Plugin if it does not exist).
    Push {
        /// The component file; omit it with --oci.
        file: Option<PathBuf>,
        /// Read the module from an OCI image layout directory, `DIR` or `DIR:TAG`.
        #[arg(long, conflicts_with = "file")]
        oci: Option<String>,
        /// The Plugin to run the module.
        #[arg(long)]
        name: Option<String>,
        /// The plugin's type, needed to create a Plugin.
        #[arg(long = "type", value_enum)]
        plugin_type: Option<PluginTypeArg>,
        /// The plugin's configuration (JSON).
        #[arg(long)]
        config: Option<String>,
    },
    /// List the Plugins: type, module, readiness and call counters.
    Ls,
    /// Show a Plugin's revisions.
    History {
        /// The Plugin.
        name: String,
    },
    /// Put a Plugin back on an earlier revision (by default the one before the current).
    Rollback {
        /// The Plugin.
        name: String,
        /// The revision to go back to.
        #[arg(long)]
        to_revision: Option<u64>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PluginTypeArg {
    Scheduler,
    Admission,
    Controller,
    Network,
}

impl PluginTypeArg {
    fn name(self) -> &'static str {
        match self {
            PluginTypeArg::Scheduler => "Scheduler",
            PluginTypeArg::Admission => "Admission",
            PluginTypeArg::Controller => "Controller",
            PluginTypeArg::Network => "Network",
        }
    }
}

pub async fn run(server: &str, command: PluginCommand) -> anyhow::Result<()> {
    let api = ApiClient::new(server);
    match command {
        PluginCommand::Push {
            file,
            oci,
            name,
            plugin_type,
            config,
        } => {
            let bytes = match (file, oci) {
                (Some(file), None) => std::fs::read(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?,
                (None, Some(layout)) => {
                    let (dir, tag) = match layout.rsplit_once(':') {
                        Some((dir, tag)) if !tag.contains('/') => {
                            (dir.to_string(), Some(tag.to_string()))
                        }
                        _ => (layout, None),
                    };
                    oci::read_module(std::path::Path::new(&dir), tag.as_deref())
                        .map_err(anyhow::Error::msg)?
                }
                _ => bail!("give a .wasm file or --oci DIR[:TAG]"),
            };
            let config: Option<Value> = config
                .map(|c| serde_json::from_str(&c))
                .transpose()
                .context("--config is not JSON")?;
            let digest = push_module(&api, &bytes).await?;
            println!("{digest}");
            if let Some(name) = name {
                point_plugin(&api, &name, &digest, plugin_type, config).await?;
            }
            Ok(())
        }
        PluginCommand::Ls => list(&api).await,
        PluginCommand::History { name } => history(&api, &name).await,
        PluginCommand::Rollback { name, to_revision } => {
            let mut plugin = api.get(&format!("{PLUGINS}/{name}")).await?;
            let spec = status::revision_spec(&plugin, to_revision)
                .map_err(|m| anyhow::anyhow!("plugin {name}: {m}"))?;
            let module = spec.get("module").cloned().unwrap_or_default();
            plugin["spec"] = spec;
            api.replace(&format!("{PLUGINS}/{name}"), &plugin).await?;
            println!(
                "plugin {name} rolled back to module {}",
                module.as_str().unwrap_or("?")
            );
            Ok(())
        }
    }
}

/// Stores the module's objects (parts first); ones already stored are left as they are.
async fn push_module(api: &ApiClient, bytes: &[u8]) -> anyhow::Result<String> {
    let (digest, objects) = modules::objects_for(bytes);
    for object in &objects {
        match api.create(MODULES, object).await {
            Ok(_) => {}
            Err(e) if e.reason() == Some("AlreadyExists") => {}
            Err(e) => return Err(e).context("cannot store the module"),
        }
    }
    Ok(digest)
}

async fn point_plugin(
    api: &ApiClient,
    name: &str,
    digest: &str,
    plugin_type: Option<PluginTypeArg>,
    config: Option<Value>,
) -> anyhow::Result<()> {
    let path = format!("{PLUGINS}/{name}");
    match api.get(&path).await {
        Ok(_) => {
            let mut spec = json!({"module": digest});
            if let Some(config) = config {
                spec["config"] = config;
            }
            api.merge_patch(&path, &json!({"spec": spec})).await?;
            eprintln!("plugin {name} updated to {digest}");
        }
        Err(e) if e.reason() == Some("NotFound") => {
            let Some(plugin_type) = plugin_type else {
                bail!("plugin {name} does not exist: give --type to create it")
            };
            let plugin = json!({
                "apiVersion": "keel.dev/v1alpha1",
                "kind": "Plugin",
                "metadata": {"name": name},
                "spec": {"type": plugin_type.name(), "module": digest, "config": config.unwrap_or(Value::Null)},
            });
            api.create(PLUGINS, &plugin).await?;
            eprintln!("plugin {name} created with {digest}");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

fn text(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

fn short(digest: &str) -> String {
    digest.get(..19).unwrap_or(digest).to_string()
}

async fn list(api: &ApiClient) -> anyhow::Result<()> {
    let plugins = api.get(PLUGINS).await?;
    println!(
        "{:<24} {:<11} {:<20} {:<6} {:<24} {:>8} {:>7} {:>9}",
        "NAME", "TYPE", "MODULE", "READY", "REASON", "CALLS", "ERRORS", "P99(us)"
    );
    for p in plugins
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!(
            "{:<24} {:<11} {:<20} {:<6} {:<24} {:>8} {:>7} {:>9}",
            text(p, "/metadata/name"),
            text(p, "/spec/type"),
            short(&text(p, "/spec/module")),
            text(p, "/status/conditions/0/status"),
            text(p, "/status/conditions/0/reason"),
            text(p, "/status/stats/calls"),
            text(p, "/status/stats/errors"),
            text(p, "/status/stats/p99Micros"),
        );
    }
    Ok(())
}

async fn history(api: &ApiClient, name: &str) -> anyhow::Result<()> {
    let plugin = api.get(&format!("{PLUGINS}/{name}")).await?;
    let current = plugin.get("spec").cloned().unwrap_or_default();
    println!(
        "{:<9} {:<20} {:<21} {:<8} CONFIG",
        "REVISION", "MODULE", "LOADED", "CURRENT"
    );
    for entry in plugin
        .pointer("/status/history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let spec = entry.get("spec").cloned().unwrap_or_default();
        let is_current = spec.get("module") == current.get("module")
            && spec.get("config") == current.get("config");
        println!(
            "{:<9} {:<20} {:<21} {:<8} {}",
            text(entry, "/revision"),
            short(&text(entry, "/spec/module")),
            text(entry, "/loadedAt"),
            if is_current { "*" } else { "" },
            spec.get("config").map_or("null".into(), Value::to_string),
        );
    }
    Ok(())
}
