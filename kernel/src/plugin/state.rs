//! The host state of one plugin instance, and the host side of the interfaces a plugin
//! imports: `host` (log, config, clock) and, for controllers and admission, `cache`.
//!
//! WASI is linked because components built by standard toolchains import it, but nothing
//! is granted: no preopened directories, no environment or arguments, no sockets or name
//! lookups, stdin empty and stdout/stderr discarded, and WASI's clocks frozen at zero (the
//! host's `now-millis` is the only clock a plugin has).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use super::bindings::controller::keel::plugin::cache;
use super::bindings::{host, types};
use super::limits::{Limits, MemoryLimiter};

/// What a controller or admission plugin may read: a scoped, read-only view of a
/// watch-backed cache. Objects are JSON text.
pub trait CacheView: Send + Sync {
    /// One object, if the view holds it.
    fn get(&self, key: &types::ObjectRef) -> Option<String>;
    /// Objects of a kind in a namespace ("" for all) matching a label selector ("" for all).
    fn list(&self, group: &str, kind: &str, namespace: &str, label_selector: &str) -> Vec<String>;
}

/// A view that holds nothing: for callers with no cache to offer.
pub struct EmptyView;

impl EmptyView {
    /// An empty view, shared.
    pub fn shared() -> Arc<dyn CacheView> {
        Arc::new(EmptyView)
    }
}

impl CacheView for EmptyView {
    fn get(&self, _: &types::ObjectRef) -> Option<String> {
        None
    }
    fn list(&self, _: &str, _: &str, _: &str, _: &str) -> Vec<String> {
        Vec::new()
    }
}

/// Log output budget of the current call.
pub(crate) struct LogBudget {
    pub(crate) left: u64,
    pub(crate) dropped: u64,
}

/// One instance's host state.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) log: LogBudget,
    pub(crate) view: Option<Arc<dyn CacheView>>,
    /// When the current call is interrupted (at the first epoch tick past it).
    pub(crate) deadline: Option<Instant>,
    plugin: Arc<str>,
    config: Arc<str>,
}

impl HostState {
    pub(crate) fn new(plugin: Arc<str>, config: Arc<str>, limits: &Limits) -> HostState {
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX)),
            log: LogBudget {
                left: limits.log_bytes,
                dropped: 0,
            },
            view: None,
            deadline: None,
            plugin,
            config,
        }
    }
}

/// WASI's clocks, stopped at zero.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String) {
        let size = message.len() as u64;
        if size > self.log.left {
            self.log.left = 0;
            self.log.dropped += size;
            return;
        }
        self.log.left -= size;
        let plugin = &*self.plugin;
        match level {
            host::Level::Trace => tracing::trace!(plugin, "{message}"),
            host::Level::Debug => tracing::debug!(plugin, "{message}"),
            host::Level::Info => tracing::info!(plugin, "{message}"),
            host::Level::Warn => tracing::warn!(plugin, "{message}"),
            host::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn config(&mut self) -> String {
        self.config.to_string()
    }

    fn now_millis(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

impl cache::Host for HostState {
    fn get(&mut self, key: types::ObjectRef) -> Option<String> {
        self.view.as_ref()?.get(&key)
    }

    fn list(
        &mut self,
        group: String,
        kind: String,
        namespace: String,
        label_selector: String,
    ) -> Vec<String> {
        self.view
            .as_ref()
            .map(|v| v.list(&group, &kind, &namespace, &label_selector))
            .unwrap_or_default()
    }
}
