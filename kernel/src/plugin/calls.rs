//! The typed calls, one per function of the contract, each bounded by `Plugin::call`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Store;

use super::bindings::{admission, controller, network, scheduler, types};
use super::error::{CallError, CallErrorKind};
use super::instance::{Exports, Plugin, Warm};
use super::spec::PluginType;
use super::state::{CacheView, HostState};

pub use admission::exports::keel::plugin::admission::{
    Denial, Mutation, Operation, Request as AdmissionRequest, UserInfo, Verdict,
};
pub use controller::exports::keel::plugin::controller::{Action, ReconcileResult};
pub use network::exports::keel::plugin::network::{NodeNetwork, PodAddress, PodRef};
pub use scheduler::exports::keel::plugin::scheduler::{
    Candidates, FilterResult, Node, Pod, Resources, Taint, TaintEffect, Toleration,
    TolerationOperator,
};
pub use types::ObjectRef;

/// The node table a scheduler plugin keeps resident, as the caller knows it. Before a
/// filter or score call the host brings the instance up to date: the changes since the
/// generation it holds, or the whole table for a fresh instance.
pub trait NodeTable {
    /// The table's current generation; it grows with every change.
    fn generation(&self) -> u64;
    /// The nodes added or changed, and the indexes removed, since `generation`; `None`
    /// when the caller no longer knows (the whole table is sent instead).
    fn changes_since(&self, generation: u64) -> Option<(Vec<Node>, Vec<u32>)>;
    /// Every node.
    fn all(&self) -> Vec<Node>;
}

/// A node table that never changes, for callers that set it once. Each table has a
/// generation of its own, so an instance synced with one is never taken as synced with
/// another.
pub struct FixedNodes {
    nodes: Vec<Node>,
    generation: u64,
}

impl FixedNodes {
    /// A table of `nodes`.
    pub fn new(nodes: Vec<Node>) -> FixedNodes {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        FixedNodes {
            nodes,
            generation: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl NodeTable for FixedNodes {
    fn generation(&self) -> u64 {
        self.generation
    }
    fn changes_since(&self, _: u64) -> Option<(Vec<Node>, Vec<u32>)> {
        None
    }
    fn all(&self) -> Vec<Node> {
        self.nodes.clone()
    }
}

fn sync_nodes(
    store: &mut Store<HostState>,
    held: &mut Option<u64>,
    plugin: &scheduler::SchedulerPlugin,
    nodes: &dyn NodeTable,
) -> wasmtime::Result<()> {
    let generation = nodes.generation();
    if *held == Some(generation) {
        return Ok(());
    }
    let api = plugin.keel_plugin_scheduler();
    match held.and_then(|held| nodes.changes_since(held)) {
        Some((upserts, removed)) => api.call_sync_nodes(&mut *store, &upserts, &removed)?,
        None => api.call_sync_nodes(&mut *store, &nodes.all(), &[])?,
    }
    *held = Some(generation);
    Ok(())
}

impl Plugin {
    /// `admission.validate`, with `view` as the plugin's `cache` for the call.
    pub fn validate(
        &self,
        view: Arc<dyn CacheView>,
        request: &AdmissionRequest,
    ) -> Result<Verdict, CallError> {
        self.admission(view, |store, plugin| {
            plugin.keel_plugin_admission().call_validate(store, request)
        })
    }

    /// `admission.mutate`, with `view` as the plugin's `cache` for the call.
    pub fn mutate(
        &self,
        view: Arc<dyn CacheView>,
        request: &AdmissionRequest,
    ) -> Result<Mutation, CallError> {
        self.admission(view, |store, plugin| {
            plugin.keel_plugin_admission().call_mutate(store, request)
        })
    }

    fn admission<R: super::instance::Answer>(
        &self,
        view: Arc<dyn CacheView>,
        call: impl FnOnce(
            &mut Store<HostState>,
            &admission::AdmissionPlugin,
        ) -> wasmtime::Result<Result<R, types::PluginError>>,
    ) -> Result<R, CallError> {
        self.expect_type(PluginType::Admission)?;
        self.call(Some(view), |Warm { store, exports, .. }| match exports {
            Exports::Admission(plugin) => call(store, plugin),
            _ => Err(wasmtime::Error::msg("instance is not an admission plugin")),
        })
    }

    /// `scheduler.filter`, after bringing the instance's node table up to date.
    pub fn filter(
        &self,
        nodes: &dyn NodeTable,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<FilterResult, CallError> {
        self.scheduler(nodes, |store, plugin| {
            plugin
                .keel_plugin_scheduler()
                .call_filter(store, pod, candidates)
        })
    }

    /// `scheduler.score`, after bringing the instance's node table up to date.
    pub fn score(
        &self,
        nodes: &dyn NodeTable,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<Vec<u32>, CallError> {
        let scores = self.scheduler(nodes, |store, plugin| {
            plugin
                .keel_plugin_scheduler()
                .call_score(store, pod, candidates)
        })?;
        if scores.len() != candidates.index.len() || scores.iter().any(|&s| s > 100) {
            return Err(self.error(CallErrorKind::BadAnswer(format!(
                "{} scores for {} candidates, or a score over 100",
                scores.len(),
                candidates.index.len()
            ))));
        }
        Ok(scores)
    }

    fn scheduler<R: super::instance::Answer>(
        &self,
        nodes: &dyn NodeTable,
        call: impl FnOnce(
            &mut Store<HostState>,
            &scheduler::SchedulerPlugin,
        ) -> wasmtime::Result<Result<R, types::PluginError>>,
    ) -> Result<R, CallError> {
        self.expect_type(PluginType::Scheduler)?;
        self.call(
            None,
            |Warm {
                 store,
                 exports,
                 nodes_generation,
             }| match exports {
                Exports::Scheduler(plugin) => {
                    sync_nodes(store, nodes_generation, plugin, nodes)?;
                    call(store, plugin)
                }
                _ => Err(wasmtime::Error::msg("instance is not a scheduler plugin")),
            },
        )
    }

    /// `controller.reconcile`, with `view` as the plugin's `cache` for the call.
    pub fn reconcile(
        &self,
        view: Arc<dyn CacheView>,
        key: &ObjectRef,
        object: Option<&str>,
    ) -> Result<ReconcileResult, CallError> {
        self.expect_type(PluginType::Controller)?;
        let object = object.map(str::to_string);
        self.call(Some(view), |Warm { store, exports, .. }| match exports {
            Exports::Controller(plugin) => {
                plugin
                    .keel_plugin_controller()
                    .call_reconcile(store, key, object.as_ref())
            }
            _ => Err(wasmtime::Error::msg("instance is not a controller plugin")),
        })
    }

    /// `network.allocate`.
    pub fn allocate(
        &self,
        node: &NodeNetwork,
        pod: &PodRef,
        in_use: &[String],
    ) -> Result<PodAddress, CallError> {
        self.expect_type(PluginType::Network)?;
        self.call(None, |Warm { store, exports, .. }| match exports {
            Exports::Network(plugin) => plugin
                .keel_plugin_network()
                .call_allocate(store, node, pod, in_use),
            _ => Err(wasmtime::Error::msg("instance is not a network plugin")),
        })
    }

    fn expect_type(&self, expected: PluginType) -> Result<(), CallError> {
        if self.spec().plugin_type == expected {
            Ok(())
        } else {
            Err(self.wrong_type(expected))
        }
    }
}
