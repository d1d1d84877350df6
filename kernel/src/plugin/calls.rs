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
    Denial, Mutation, Operation, Request as AdmissionRequest, Steps as AdmissionSteps, UserInfo,
    Verdict,
};
pub use controller::exports::keel::plugin::controller::{
    Action, Deletion, Propagation, ReconcileResult,
};
pub use network::exports::keel::plugin::network::{NodeNetwork, PodAddress, PodRef};
pub use scheduler::exports::keel::plugin::scheduler::{
    Candidates, Capabilities, FilterResult, Node, NodeUsage, PlacedPod, Pod, PodFields, Resources,
    Taint, TaintEffect, Toleration, TolerationOperator,
};
pub use types::ObjectRef;

/// A table a scheduler plugin keeps resident (its nodes, or its placed pods), as the
/// caller knows it. Before a filter or score call the host brings the instance up to date:
/// the changes since the generation it holds, or the whole table for a fresh instance.
pub trait SyncedTable<R>: Sync {
    /// The table's current generation; it grows with every change.
    fn generation(&self) -> u64;
    /// The rows added or changed, and the indexes removed, since `generation`; `None`
    /// when the caller no longer knows (the whole table is sent instead).
    fn changes_since(&self, generation: u64) -> Option<(Vec<R>, Vec<u32>)>;
    /// Every row.
    fn all(&self) -> Vec<R>;
}

/// The node table a scheduler plugin keeps resident.
pub trait NodeTable: SyncedTable<Node> {}
impl<T: SyncedTable<Node>> NodeTable for T {}

/// The tables a scheduler call brings an instance up to date with.
#[derive(Clone, Copy)]
pub struct Tables<'a> {
    /// Every node.
    pub nodes: &'a dyn SyncedTable<Node>,
    /// What each node has allocated, for plugins whose capabilities read usage (none:
    /// not synced).
    pub usage: Option<&'a dyn SyncedTable<NodeUsage>>,
    /// Every placed pod, for plugins whose capabilities read pods (none: not synced).
    pub pods: Option<&'a dyn SyncedTable<PlacedPod>>,
}

impl<'a> Tables<'a> {
    /// `nodes`, and no placed pods.
    pub fn nodes_only(nodes: &'a dyn SyncedTable<Node>) -> Tables<'a> {
        Tables {
            nodes,
            usage: None,
            pods: None,
        }
    }
}

/// A table that never changes, for callers that set it once. Each table has a generation
/// of its own, so an instance synced with one is never taken as synced with another.
pub struct FixedTable<R> {
    rows: Vec<R>,
    generation: u64,
}

/// A node table that never changes.
pub type FixedNodes = FixedTable<Node>;

impl<R> FixedTable<R> {
    /// A table of `rows`.
    pub fn new(rows: Vec<R>) -> FixedTable<R> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        FixedTable {
            rows,
            generation: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl<R: Clone + Sync> SyncedTable<R> for FixedTable<R> {
    fn generation(&self) -> u64 {
        self.generation
    }
    fn changes_since(&self, _: u64) -> Option<(Vec<R>, Vec<u32>)> {
        None
    }
    fn all(&self) -> Vec<R> {
        self.rows.clone()
    }
}

/// Calls the admission export `$export` of `$plugin` with `$args` through
/// `Plugin::call_async` (a macro: the call's future borrows the instance it is given). An
/// export that cannot fail has its answer wrapped by `$wrap` (`Ok`).
macro_rules! admission_call {
    ($plugin:expr, $view:expr, $export:ident($($args:expr),*) $(=> $wrap:expr)?) => {{
        $plugin.expect_type(PluginType::Admission)?;
        $plugin
            .call_async($view, async |mut warm: Warm| {
                let outcome = match &warm.exports {
                    Exports::Admission(plugin) => {
                        plugin
                            .keel_plugin_admission()
                            .$export(&mut warm.store $(, $args)*)
                            .await
                            $(.map($wrap))?
                    }
                    _ => Err(wasmtime::Error::msg("instance is not an admission plugin")),
                };
                (warm, outcome)
            })
            .await
    }};
}

/// Brings one of an instance's resident tables up to date through `send`.
fn sync_table<R>(
    held: &mut Option<u64>,
    table: &dyn SyncedTable<R>,
    send: impl FnOnce(&[R], &[u32]) -> wasmtime::Result<()>,
) -> wasmtime::Result<()> {
    let generation = table.generation();
    if *held == Some(generation) {
        return Ok(());
    }
    // Forget what the instance held first: if sending fails, it is not trusted again.
    let since = held.take();
    match since.and_then(|since| table.changes_since(since)) {
        Some((upserts, removed)) => send(&upserts, &removed)?,
        None => send(&table.all(), &[])?,
    }
    *held = Some(generation);
    Ok(())
}

impl Plugin {
    /// `admission.describe`: which steps the plugin has, in the caller's task (asked once
    /// at load; [`Plugin::admission_steps`] keeps the answer).
    pub(crate) async fn describe_admission_async(&self) -> Result<AdmissionSteps, CallError> {
        admission_call!(self, None, call_describe() => Ok)
    }

    /// `admission.validate`, with `view` as the plugin's `cache` for the call, in the
    /// caller's task.
    pub async fn validate_async(
        &self,
        view: Arc<dyn CacheView>,
        request: &AdmissionRequest,
    ) -> Result<Verdict, CallError> {
        admission_call!(self, Some(view), call_validate(request))
    }

    /// `admission.mutate`, with `view` as the plugin's `cache` for the call, in the
    /// caller's task.
    pub async fn mutate_async(
        &self,
        view: Arc<dyn CacheView>,
        request: &AdmissionRequest,
    ) -> Result<Mutation, CallError> {
        admission_call!(self, Some(view), call_mutate(request))
    }

    /// [`Plugin::validate_async`], waited for on this thread, which must not be an async
    /// runtime's worker.
    pub fn validate(
        &self,
        view: Arc<dyn CacheView>,
        request: &AdmissionRequest,
    ) -> Result<Verdict, CallError> {
        wasmtime_wasi::runtime::in_tokio(self.validate_async(view, request))
    }

    /// [`Plugin::mutate_async`], waited for on this thread, which must not be an async
    /// runtime's worker.
    pub fn mutate(
        &self,
        view: Arc<dyn CacheView>,
        request: &AdmissionRequest,
    ) -> Result<Mutation, CallError> {
        wasmtime_wasi::runtime::in_tokio(self.mutate_async(view, request))
    }

    /// `scheduler.describe`: which calls the plugin implements and what it reads (asked
    /// once at load; [`Plugin::capabilities`] keeps the answer).
    pub(crate) fn describe_scheduler(&self) -> Result<Capabilities, CallError> {
        self.expect_type(PluginType::Scheduler)?;
        self.call(None, |Warm { store, exports, .. }| match exports {
            Exports::Scheduler(plugin) => {
                plugin.keel_plugin_scheduler().call_describe(store).map(Ok)
            }
            _ => Err(wasmtime::Error::msg("instance is not a scheduler plugin")),
        })
    }

    /// `scheduler.filter`, after bringing the instance's tables up to date.
    pub fn filter(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<FilterResult, CallError> {
        let result = self.scheduler(tables, |store, plugin| {
            plugin
                .keel_plugin_scheduler()
                .call_filter(store, pod, candidates)
        })?;
        let n = candidates.index.len();
        if result.codes.len() != n
            || result
                .codes
                .iter()
                .any(|&code| usize::from(code) > result.reasons.len())
        {
            return Err(self.error(CallErrorKind::BadAnswer(format!(
                "{} filter codes for {n} candidates, or a code with no reasons",
                result.codes.len()
            ))));
        }
        Ok(result)
    }

    /// `scheduler.score`, after bringing the instance's tables up to date.
    pub fn score(
        &self,
        tables: Tables<'_>,
        pod: &Pod,
        candidates: &Candidates,
    ) -> Result<Vec<u32>, CallError> {
        let scores = self.scheduler(tables, |store, plugin| {
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
        tables: Tables<'_>,
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
                 synced,
             }| match exports {
                Exports::Scheduler(plugin) => {
                    let api = plugin.keel_plugin_scheduler();
                    sync_table(&mut synced.nodes, tables.nodes, |upserts, removed| {
                        api.call_sync_nodes(&mut *store, upserts, removed)
                    })?;
                    if let Some(usage) = tables.usage {
                        sync_table(&mut synced.usage, usage, |upserts, removed| {
                            api.call_sync_usage(&mut *store, upserts, removed)
                        })?;
                    }
                    if let Some(pods) = tables.pods {
                        sync_table(&mut synced.pods, pods, |upserts, removed| {
                            api.call_sync_pods(&mut *store, upserts, removed)
                        })?;
                    }
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
