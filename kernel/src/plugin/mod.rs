//! The plugin host: WebAssembly components implementing the `keel:plugin` contract
//! (`wit/plugin.wit`), loaded at run time, bounded on every call, and swapped live.
//!
//! - [`host`]: [`PluginHost::load`] turns module bytes and a `Plugin` spec into a version.
//! - [`instance`]: a loaded [`Plugin`] version: warm instances and the bounded call.
//! - [`calls`]: the typed calls of each plugin type (`validate`, `filter`, `reconcile`, ...).
//! - [`slot`]: [`PluginSlot`], the live version of a plugin, swapped atomically.
//! - [`spec`], [`limits`]: what a `Plugin` object declares.
//! - [`engine`], [`compile`], [`contract`], [`state`]: wasmtime engines and their epoch
//!   ticker, the compiled-component cache, the contract-version check, and the host side
//!   of the interfaces plugins import.
//! - [`error`], [`stats`]: load and call errors, and call counters.
//!
//! Admission calls are async (`validate_async`, `mutate_async`): they run in the caller's
//! task and yield at every epoch tick until their deadline. Every other call is
//! synchronous and may run up to its deadline: call it from a blocking thread
//! (`tokio::task::spawn_blocking`), never from an async task; so too the sync admission
//! calls (`validate`, `mutate`), which wait for the async ones on the calling thread.

mod bindings;
pub mod calls;
pub mod compile;
pub mod contract;
pub mod engine;
pub mod error;
pub mod host;
pub mod instance;
pub mod limits;
pub mod slot;
pub mod spec;
pub mod state;
pub mod stats;

pub use calls::{NodeTable, SyncedTable, Tables};
pub use compile::digest;
pub use contract::CONTRACT_VERSION;
pub use error::{CallError, CallErrorKind, LoadError};
pub use host::PluginHost;
pub use instance::Plugin;
pub use limits::{Limits, MemoryLimiter};
pub use slot::PluginSlot;
pub use spec::{
    AdmissionRule, ControllerSpec, FailurePolicy, KindRef, PluginSpec, PluginType, ValidationAction,
};
pub use state::{CacheView, EmptyView};
pub use stats::{CallStats, StatsSnapshot};
