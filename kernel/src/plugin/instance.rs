//! One loaded plugin version: its pre-linked component, a pool of warm instances, and the
//! bounded call every typed call goes through.
//!
//! A call takes a warm instance (or makes one from the `InstancePre`), refills its fuel if
//! it has a budget, sets its epoch deadline and log budget, runs, and gives the instance
//! back. An instance that trapped is dropped: after a trap wasmtime refuses to enter it
//! again, and its memory may be in any state. A failure is a [`CallError`] for that call alone.
//!
//! Admission plugins are called async (`Plugin::call_async`), in the request's own task:
//! their instances yield at every epoch tick until the call's deadline, so even a plugin
//! that loops holds a runtime worker for one tick at a time, and no call needs a thread of
//! its own. Every other type is called sync, from a thread of the caller's.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use super::bindings::{admission, controller, network, scheduler, types};
use super::calls::{AdmissionSteps, Capabilities};
use super::engine::EPOCH_TICK;
use super::error::{CallError, CallErrorKind};
use super::spec::{PluginSpec, PluginType};
use super::state::{CacheView, HostState};
use super::stats::CallStats;

/// Idle instances kept per plugin version; more concurrent callers make more, which are
/// dropped when they are done.
const MAX_IDLE: usize = 4;

/// The pre-linked component, by world.
pub(crate) enum Pre {
    Scheduler(scheduler::SchedulerPluginPre<HostState>),
    Admission(admission::AdmissionPluginPre<HostState>),
    Controller(controller::ControllerPluginPre<HostState>),
    Network(network::NetworkPluginPre<HostState>),
}

/// An instance's exports, by world.
pub(crate) enum Exports {
    Scheduler(scheduler::SchedulerPlugin),
    Admission(admission::AdmissionPlugin),
    Controller(controller::ControllerPlugin),
    Network(network::NetworkPlugin),
}

/// A warm instance.
pub(crate) struct Warm {
    pub(crate) store: Store<HostState>,
    pub(crate) exports: Exports,
    /// For scheduler plugins: the table generations this instance holds.
    pub(crate) synced: Synced,
}

/// The generations of the resident tables a scheduler instance holds (none: not synced).
#[derive(Default)]
pub(crate) struct Synced {
    pub(crate) nodes: Option<u64>,
    pub(crate) usage: Option<u64>,
    pub(crate) pods: Option<u64>,
}

/// One version of a plugin: a module with a configuration and limits, ready to call.
pub struct Plugin {
    name: Arc<str>,
    spec: Arc<PluginSpec>,
    config: Arc<str>,
    engine: Engine,
    pre: Pre,
    idle: Mutex<Vec<Warm>>,
    stats: Arc<CallStats>,
    instantiated: AtomicU64,
    /// What the module said it implements, asked once at load.
    described: Described,
}

/// What a module said it implements (its type's `describe`), asked once when a version
/// loads, so callers skip what it does not implement without asking again.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Described {
    /// A scheduler plugin's calls and the tables it reads.
    Scheduler(Capabilities),
    /// An admission plugin's steps.
    Admission(AdmissionSteps),
    /// The type has no `describe`, or it was not asked yet.
    Nothing,
}

impl Plugin {
    pub(crate) fn new(
        name: &str,
        spec: Arc<PluginSpec>,
        engine: Engine,
        pre: Pre,
        stats: Arc<CallStats>,
    ) -> Plugin {
        let config = Arc::from(spec.config.to_string());
        Plugin {
            name: Arc::from(name),
            spec,
            config,
            engine,
            pre,
            idle: Mutex::new(Vec::new()),
            stats,
            instantiated: AtomicU64::new(0),
            described: Described::Nothing,
        }
    }

    /// This version with what its module described.
    pub(crate) fn with_described(self, described: Described) -> Plugin {
        Plugin { described, ..self }
    }

    /// For an admission plugin, the steps it has: the chain calls only those. A version not
    /// described (none is, once loaded) has both.
    pub fn admission_steps(&self) -> AdmissionSteps {
        match self.described {
            Described::Admission(steps) => steps,
            _ => AdmissionSteps {
                mutates: true,
                validates: true,
            },
        }
    }

    /// For a scheduler plugin, the calls it implements and the tables it reads. A version
    /// not described (none is, once loaded) filters, so any error of its is seen.
    pub fn capabilities(&self) -> Capabilities {
        match self.described {
            Described::Scheduler(capabilities) => capabilities,
            _ => Capabilities {
                filters: true,
                scores: false,
                reads_usage: false,
                reads_pods: false,
                filter_needs: None,
                score_needs: None,
            },
        }
    }

    /// The plugin's name (its `Plugin` object's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The spec this version was loaded from.
    pub fn spec(&self) -> &PluginSpec {
        &self.spec
    }

    /// The module digest this version runs.
    pub fn digest(&self) -> &str {
        &self.spec.module
    }

    /// The plugin's call counters (shared by its versions).
    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// How many instances this version has made (warm-up included).
    pub fn instances_made(&self) -> u64 {
        self.instantiated.load(Ordering::Relaxed)
    }

    pub(crate) fn error(&self, kind: CallErrorKind) -> CallError {
        CallError {
            plugin: self.name.to_string(),
            kind,
        }
    }

    pub(crate) fn wrong_type(&self, expected: PluginType) -> CallError {
        self.error(CallErrorKind::WrongType {
            expected: expected.interface(),
            actual: self.spec.plugin_type.interface(),
        })
    }

    /// Makes one more instance and keeps it warm if the pool has room: the load-time check
    /// that the module instantiates within its limits, and a way to have instances ready
    /// before a version serves.
    pub fn warm_up(&self) -> Result<(), CallError> {
        let warm = self.instantiate()?;
        self.release(warm);
        Ok(())
    }

    fn instantiate(&self) -> Result<Warm, CallError> {
        let mut store = self.store();
        let exports = match &self.pre {
            Pre::Scheduler(pre) => pre.instantiate(&mut store).map(Exports::Scheduler),
            Pre::Admission(pre) => {
                wasmtime_wasi::runtime::in_tokio(pre.instantiate_async(&mut store))
                    .map(Exports::Admission)
            }
            Pre::Controller(pre) => pre.instantiate(&mut store).map(Exports::Controller),
            Pre::Network(pre) => pre.instantiate(&mut store).map(Exports::Network),
        };
        self.made(store, exports)
    }

    /// An admission instance, made in the caller's task.
    async fn instantiate_async(&self) -> Result<Warm, CallError> {
        let mut store = self.store();
        let exports = match &self.pre {
            Pre::Admission(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Exports::Admission),
            _ => return Err(self.wrong_type(PluginType::Admission)),
        };
        self.made(store, exports)
    }

    /// A store for one new instance, armed for its instantiation.
    fn store(&self) -> Store<HostState> {
        let limits = &self.spec.limits;
        let mut store = Store::new(
            &self.engine,
            HostState::new(self.name.clone(), self.config.clone(), limits),
        );
        store.limiter(|state| &mut state.limiter);
        // At every epoch tick until the call's deadline: go on (an async call yields to its
        // executor first); past it, interrupt.
        let yields = self.is_async();
        store.epoch_deadline_callback(move |store| {
            Ok(match store.data().deadline {
                Some(deadline) if Instant::now() < deadline => match yields {
                    true => UpdateDeadline::Yield(1),
                    false => UpdateDeadline::Continue(1),
                },
                _ => UpdateDeadline::Interrupt,
            })
        });
        self.arm(&mut store);
        store
    }

    /// Whether this version is called async (an admission plugin).
    fn is_async(&self) -> bool {
        matches!(self.pre, Pre::Admission(_))
    }

    /// A new instance from `store` and what instantiating it gave.
    fn made(
        &self,
        store: Store<HostState>,
        exports: wasmtime::Result<Exports>,
    ) -> Result<Warm, CallError> {
        let exports = exports.map_err(|e| match self.classify(&e, &store) {
            CallErrorKind::Trap(message) | CallErrorKind::BadAnswer(message) => {
                self.error(CallErrorKind::Instantiate(message))
            }
            kind => self.error(kind),
        })?;
        self.instantiated.fetch_add(1, Ordering::Relaxed);
        Ok(Warm {
            store,
            exports,
            synced: Synced::default(),
        })
    }

    /// Refills the budgets for one call (or one instantiation).
    fn arm(&self, store: &mut Store<HostState>) {
        let limits = &self.spec.limits;
        if let Some(fuel) = limits.fuel {
            // The engine meters fuel whenever the limits set a budget, so this cannot fail.
            let _ = store.set_fuel(fuel);
        }
        store.set_epoch_deadline(1);
        let state = store.data_mut();
        state.deadline = Some(Instant::now() + Duration::from_millis(limits.timeout_millis));
        state.limiter.refused = false;
        state.log.left = limits.log_bytes;
        state.log.dropped = 0;
    }

    fn release(&self, warm: Warm) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(warm);
        }
    }

    /// Runs one bounded call on a warm instance. `call` gets the instance and answers as
    /// wasmtime's bindings do: the outer error a trap, the inner one the plugin's own.
    pub(crate) fn call<R: Answer>(
        &self,
        view: Option<Arc<dyn CacheView>>,
        call: impl FnOnce(&mut Warm) -> wasmtime::Result<Result<R, types::PluginError>>,
    ) -> Result<R, CallError> {
        let start = Instant::now();
        let result = self.call_on_instance(view, call);
        self.record(start, &result);
        result
    }

    /// Runs one bounded call of an async (admission) plugin in the caller's task. `call`
    /// gets the instance and gives it back with the answer, as [`Plugin::call`]'s does.
    pub(crate) async fn call_async<R: Answer, F>(
        &self,
        view: Option<Arc<dyn CacheView>>,
        call: impl FnOnce(Warm) -> F,
    ) -> Result<R, CallError>
    where
        F: Future<Output = (Warm, wasmtime::Result<Result<R, types::PluginError>>)>,
    {
        let start = Instant::now();
        let warm = match self.take_idle() {
            Some(warm) => Ok(warm),
            None => self.instantiate_async().await,
        };
        let result = match warm {
            Ok(mut warm) => {
                self.lend(&mut warm, view);
                let call = std::pin::pin!(call(warm));
                let (warm, outcome) = OffWorkerWhenSlow::new(call).await;
                self.finish(warm, outcome)
            }
            Err(e) => Err(e),
        };
        self.record(start, &result);
        result
    }

    /// Counts a call that started at `start`.
    fn record<R>(&self, start: Instant, result: &Result<R, CallError>) {
        self.stats.record(
            start.elapsed(),
            result.as_ref().err().map(CallError::reason),
        );
    }

    fn call_on_instance<R: Answer>(
        &self,
        view: Option<Arc<dyn CacheView>>,
        call: impl FnOnce(&mut Warm) -> wasmtime::Result<Result<R, types::PluginError>>,
    ) -> Result<R, CallError> {
        let mut warm = match self.take_idle() {
            Some(warm) => warm,
            None => self.instantiate()?,
        };
        self.lend(&mut warm, view);
        let outcome = call(&mut warm);
        self.finish(warm, outcome)
    }

    /// A warm instance from the pool, if one is idle.
    fn take_idle(&self) -> Option<Warm> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// Readies `warm` for one call that reads `view`.
    fn lend(&self, warm: &mut Warm, view: Option<Arc<dyn CacheView>>) {
        self.arm(&mut warm.store);
        warm.store.data_mut().view = view;
    }

    /// What a call on `warm` answered: the instance goes back to the pool unless it
    /// trapped, and the answer is checked against the answer limit.
    fn finish<R: Answer>(
        &self,
        mut warm: Warm,
        outcome: wasmtime::Result<Result<R, types::PluginError>>,
    ) -> Result<R, CallError> {
        warm.store.data_mut().view = None;
        let dropped = warm.store.data().log.dropped;
        if dropped > 0 {
            tracing::warn!(
                plugin = &*self.name,
                "dropped {dropped} bytes of log output past the call's limit"
            );
        }
        match outcome {
            Ok(answer) => {
                self.release(warm);
                let answer = answer.map_err(|e| self.error(CallErrorKind::Plugin(e.message)))?;
                let size = answer.size();
                if size as u64 > self.spec.limits.answer_bytes {
                    let limit = self.spec.limits.answer_bytes;
                    return Err(self.error(CallErrorKind::BadAnswer(format!(
                        "{size} bytes is over the {limit}-byte answer limit"
                    ))));
                }
                Ok(answer)
            }
            Err(error) => Err(self.error(self.classify(&error, &warm.store))),
        }
    }

    fn classify(&self, error: &wasmtime::Error, store: &Store<HostState>) -> CallErrorKind {
        let limits = &self.spec.limits;
        if store.data().limiter.refused {
            return CallErrorKind::MemoryLimit {
                bytes: limits.memory_bytes,
            };
        }
        if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return CallErrorKind::Exited(exit.0);
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallErrorKind::Timeout {
                millis: limits.timeout_millis,
            },
            Some(Trap::OutOfFuel) => CallErrorKind::FuelExhausted {
                fuel: limits.fuel.unwrap_or(0),
            },
            Some(Trap::StackOverflow) => CallErrorKind::StackOverflow,
            Some(
                trap @ (Trap::InvalidChar
                | Trap::StringOutOfBounds
                | Trap::ListOutOfBounds
                | Trap::InvalidDiscriminant
                | Trap::UnalignedPointer),
            ) => CallErrorKind::BadAnswer(trap.to_string()),
            Some(trap) => CallErrorKind::Trap(trap.to_string()),
            // Not a trap: the answer could not be lifted (a string that is not UTF-8, a list
            // past the end of memory) or an import refused the plugin outright; either way
            // the plugin broke the contract.
            None => {
                let message = format!("{error:#}");
                CallErrorKind::BadAnswer(message.lines().next().unwrap_or_default().to_string())
            }
        }
    }
}

/// An async call that runs in place for its first epoch tick and, once it has run longer,
/// is resumed inside `block_in_place`, so the worker's other tasks (and its I/O and timers,
/// which a worker polls only every so many tasks) move to another thread while the call
/// runs on to its deadline. On a current-thread runtime it always runs in place, yielding.
struct OffWorkerWhenSlow<'a, F> {
    call: Pin<&'a mut F>,
    started: Instant,
}

impl<'a, F> OffWorkerWhenSlow<'a, F> {
    fn new(call: Pin<&'a mut F>) -> OffWorkerWhenSlow<'a, F> {
        OffWorkerWhenSlow {
            call,
            started: Instant::now(),
        }
    }
}

impl<F: Future> Future for OffWorkerWhenSlow<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let slow = self.started.elapsed() >= EPOCH_TICK
            && Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        if slow {
            tokio::task::block_in_place(|| self.call.as_mut().poll(cx))
        } else {
            self.call.as_mut().poll(cx)
        }
    }
}

/// An answer's size in bytes, for the answer-size limit.
pub(crate) trait Answer {
    fn size(&self) -> usize;
}

impl Answer for () {
    fn size(&self) -> usize {
        0
    }
}

impl Answer for scheduler::exports::keel::plugin::scheduler::Capabilities {
    fn size(&self) -> usize {
        4
    }
}

impl Answer for Vec<u32> {
    fn size(&self) -> usize {
        self.len() * 4
    }
}

fn strings(list: &[String]) -> usize {
    list.iter().map(|s| s.len() + 8).sum()
}

impl Answer for admission::exports::keel::plugin::admission::Verdict {
    fn size(&self) -> usize {
        strings(&self.warnings)
            + strings(&self.status_updates)
            + self
                .denied
                .as_ref()
                .map_or(0, |d| d.reason.len() + d.message.len())
    }
}

impl Answer for AdmissionSteps {
    fn size(&self) -> usize {
        2
    }
}

impl Answer for admission::exports::keel::plugin::admission::Mutation {
    fn size(&self) -> usize {
        strings(&self.warnings) + self.patch.as_ref().map_or(0, String::len)
    }
}

impl Answer for scheduler::exports::keel::plugin::scheduler::FilterResult {
    fn size(&self) -> usize {
        self.codes.len() * 2 + self.reasons.iter().map(|r| strings(r)).sum::<usize>()
    }
}

impl Answer for controller::exports::keel::plugin::controller::ReconcileResult {
    fn size(&self) -> usize {
        use controller::exports::keel::plugin::controller::Action;
        self.actions
            .iter()
            .map(|a| match a {
                Action::Create(j) | Action::Update(j) | Action::UpdateStatus(j) => j.len(),
                Action::Delete(d) => {
                    let r = &d.target;
                    r.group.len()
                        + r.kind.len()
                        + r.namespace.len()
                        + r.name.len()
                        + d.uid.as_ref().map_or(0, String::len)
                }
            })
            .sum()
    }
}

impl Answer for network::exports::keel::plugin::network::PodAddress {
    fn size(&self) -> usize {
        self.address.len() + self.gateway.len()
    }
}
