//! The admission chain: every write, before it is stored, passes the mutating step of each
//! admission plugin that matches it (in `spec.order`, then name), each returning a JSON
//! Patch or nothing, then the validating step of each; the first denial answers the client.
//! A plugin is called only for the steps it said it has (`describe`, asked at load).
//!
//! - [`AdmissionChain`] implements the registry's [`Admission`] step over the plugin
//!   [`Catalog`] and a watch-backed [`ObjectCache`] (the objects plugins read: namespaces,
//!   LimitRanges, ResourceQuotas, pods, ...). Before a chain runs, the cache is brought up to
//!   the store's revision, so plugins see every write applied before the request.
//! - [`select`]: which plugins a write meets (rules, namespaces, namespace selector).
//! - [`answer`]: denials, warnings and failures as the client gets them.
//!
//! Plugin and PluginModule objects are not admitted (as Kubernetes exempts webhook
//! configurations from webhooks), so no plugin can lock the catalog out.
//!
//! **Invariant**: a plugin that traps, times out or answers badly fails the write only
//! under `failurePolicy: Fail`, with a typed reason; under `Ignore` the chain goes on.

pub mod answer;
pub mod select;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::catalog::Catalog;
use crate::client::cache::ObjectCache;
use crate::object::resource::KEEL_GROUP;
use crate::object::{Registry, ResourceType};
use crate::plugin::calls::{
    AdmissionRequest, Operation as PluginOperation, UserInfo as PluginUser,
};
use crate::plugin::{CacheView, Plugin, PluginType};
use crate::registry::admission::Admission;
use crate::registry::admission::{AdmitFuture, Admitted, Attempt, Operation, StatusUpdate};
use crate::registry::{ApiError, Objects, Result};

/// How long a write waits for the admission cache to reach the store's revision.
const CACHE_WAIT: Duration = Duration::from_secs(5);

/// The kinds admission plugins can read through `cache`.
pub const CACHED_KINDS: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "LimitRange"),
    ("", "ResourceQuota"),
    ("", "Pod"),
    ("", "Service"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "PersistentVolumeClaim"),
];

/// The admission chain over a catalog's admission plugins.
pub struct AdmissionChain {
    catalog: Arc<Catalog>,
    cache: Arc<ObjectCache>,
    objects: Objects,
}

impl AdmissionChain {
    /// Starts the chain's cache over `objects` and installs the chain as their admission.
    pub fn install(objects: &Objects, catalog: Arc<Catalog>) -> Arc<AdmissionChain> {
        let kinds = cached_kinds(objects.kinds());
        let chain = Arc::new(AdmissionChain {
            catalog,
            cache: ObjectCache::start(objects, kinds),
            objects: objects.clone(),
        });
        if !objects.set_admission(chain.clone()) {
            tracing::warn!("admission was already installed; this chain is not used");
        }
        chain
    }

    /// The cache plugins read.
    pub fn cache(&self) -> &Arc<ObjectCache> {
        &self.cache
    }

    async fn run(&self, attempt: Attempt<'_>) -> Result<Admitted> {
        if attempt.kind.group == KEEL_GROUP {
            return Ok(Admitted::default());
        }
        let plugins = self.catalog.of_type(PluginType::Admission);
        if plugins.is_empty() {
            return Ok(Admitted::default());
        }
        let wanted = self.objects.store().revision();
        if self.cache.revision() < wanted {
            self.cache
                .wait_for(wanted, CACHE_WAIT)
                .await
                .map_err(|behind| ApiError::Timeout(format!("admission: {behind}")))?;
        }
        let plugins = select::matching(&plugins, &attempt, &self.cache);
        if plugins.is_empty() {
            return Ok(Admitted::default());
        }
        let job = Job::new(&attempt, plugins, self.cache.clone())?;
        let warnings = attempt.warnings.clone();
        let (admitted, job_warnings) = job.run().await;
        for warning in job_warnings {
            warnings.push(warning);
        }
        admitted
    }
}

impl Admission for AdmissionChain {
    fn admit<'a>(&'a self, attempt: Attempt<'a>) -> AdmitFuture<'a> {
        Box::pin(self.run(attempt))
    }
}

/// The kinds of [`CACHED_KINDS`] the registry serves.
fn cached_kinds(kinds: &Registry) -> Vec<&'static ResourceType> {
    kinds
        .all()
        .iter()
        .filter(|k| CACHED_KINDS.contains(&(k.group, k.kind)))
        .collect()
}

/// One chain run. Its plugin calls run in the request's own task, each yielding at every
/// epoch tick (`Plugin::call_async`), so no call needs a thread of its own.
struct Job {
    plugins: Vec<Arc<Plugin>>,
    cache: Arc<ObjectCache>,
    kind: &'static ResourceType,
    request: AdmissionRequest,
    /// The object as the last patch left it; none until a plugin patches it (the request's
    /// text stands for it until then, so a chain that patches nothing copies nothing).
    object: Option<Value>,
    mutated: bool,
    warnings: Vec<String>,
}

impl Job {
    fn new(
        attempt: &Attempt<'_>,
        plugins: Vec<Arc<Plugin>>,
        cache: Arc<ObjectCache>,
    ) -> Result<Job> {
        let kind = attempt.kind;
        let request = AdmissionRequest {
            uid: uuid::Uuid::new_v4().to_string(),
            operation: match attempt.operation {
                Operation::Create => PluginOperation::Create,
                Operation::Update => PluginOperation::Update,
                Operation::Delete => PluginOperation::Delete,
            },
            group: kind.group.into(),
            version: kind.version.into(),
            kind: kind.kind.into(),
            resource: kind.plural.into(),
            subresource: attempt.subresource.map(str::to_string),
            namespace: attempt.namespace.into(),
            name: attempt.name.into(),
            user: PluginUser {
                username: attempt.user.username.clone(),
                groups: attempt.user.groups.clone(),
            },
            object: attempt.object.map(Value::to_string),
            old_object: attempt.old_object.map(Value::to_string),
            dry_run: attempt.dry_run,
        };
        Ok(Job {
            plugins,
            cache,
            kind,
            request,
            object: None,
            mutated: false,
            warnings: Vec::new(),
        })
    }

    async fn run(mut self) -> (Result<Admitted>, Vec<String>) {
        let plugins = std::mem::take(&mut self.plugins);
        let result = match self.mutate(&plugins).await {
            Ok(()) => self.validate(&plugins).await,
            Err(e) => Err(e),
        };
        (result, self.warnings)
    }

    fn view(&self) -> Arc<dyn CacheView> {
        self.cache.clone()
    }

    /// The mutating step of every plugin, in order, each seeing the last one's result.
    async fn mutate(&mut self, plugins: &[Arc<Plugin>]) -> Result<()> {
        if self.request.operation == PluginOperation::Delete {
            return Ok(());
        }
        for plugin in plugins.iter().filter(|p| p.admission_steps().mutates) {
            let answer = plugin.mutate_async(self.view(), &self.request).await;
            let Some(mutation) = answer::apply_policy(plugin, answer)? else {
                continue;
            };
            self.warnings.extend(mutation.warnings);
            let Some(patch) = mutation.patch else {
                continue;
            };
            let current = match self.object.take() {
                Some(object) => object,
                None => match self.request.object.as_deref().map(serde_json::from_str) {
                    Some(Ok(object)) => object,
                    Some(Err(e)) => {
                        return Err(ApiError::Internal(format!(
                            "admission: the object as sent to plugins is not JSON: {e}"
                        )));
                    }
                    None => continue,
                },
            };
            let patched = answer::patched(plugin, &current, &patch);
            self.object = Some(current);
            let Some(patched) = answer::apply_policy(plugin, patched)? else {
                continue;
            };
            self.request.object = Some(patched.to_string());
            self.object = Some(patched);
            self.mutated = true;
        }
        Ok(())
    }

    /// The validating step of every plugin; the first enforced denial ends the chain.
    async fn validate(&mut self, plugins: &[Arc<Plugin>]) -> Result<Admitted> {
        let mut status_updates = Vec::new();
        for plugin in plugins.iter().filter(|p| p.admission_steps().validates) {
            let answer = plugin.validate_async(self.view(), &self.request).await;
            let Some(verdict) = answer::apply_policy(plugin, answer)? else {
                continue;
            };
            self.warnings.extend(verdict.warnings);
            if let Some(denial) = verdict.denied {
                let warn_only = plugin.spec().warns_only();
                plugin.stats().record_denial(warn_only);
                if warn_only {
                    self.warnings.push(answer::warning(plugin, &denial));
                    continue;
                }
                return Err(answer::denied(
                    plugin,
                    self.kind,
                    &self.request.name,
                    &denial,
                ));
            }
            for update in &verdict.status_updates {
                let update = answer::status_update(plugin, &self.cache, update);
                if let Some(update) = answer::apply_policy(plugin, update)? {
                    status_updates.push(update);
                }
            }
        }
        Ok(Admitted {
            object: if self.mutated {
                self.object.take()
            } else {
                None
            },
            status_updates: merge(status_updates),
        })
    }
}

/// Status updates to the same object from several plugins: the last one's status wins (one
/// write per object in an atomic command).
fn merge(updates: Vec<StatusUpdate>) -> Vec<StatusUpdate> {
    let mut merged: Vec<StatusUpdate> = Vec::with_capacity(updates.len());
    for update in updates {
        let same = |u: &StatusUpdate| {
            std::ptr::eq(u.kind, update.kind)
                && u.current.pointer("/metadata/namespace")
                    == update.current.pointer("/metadata/namespace")
                && u.current.pointer("/metadata/name") == update.current.pointer("/metadata/name")
        };
        match merged.iter_mut().find(|u| same(u)) {
            Some(existing) => *existing = update,
            None => merged.push(update),
        }
    }
    merged
}
