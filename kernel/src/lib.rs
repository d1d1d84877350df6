//! Keel's kernel: the small trusted core of a container orchestrator whose
//! policy runs as sandboxed WebAssembly plugins.
//!
//! The layers, each depending only on those before it:
//! [`object`] (kinds, metadata rules, selectors, patches) <- [`store`]
//! (Raft log and state machine on RocksDB) <- [`watch`] (history and fan-out)
//! <- [`registry`] (the verbs on objects) <- [`api`] (the Kubernetes HTTP API).
//! Beside them, [`plugin`] hosts the WebAssembly plugins (it depends on none of the layers),
//! and [`catalog`] keeps the live plugins in step with `Plugin` objects through [`client`]'s
//! watcher. [`admission`] runs the catalog's admission plugins on every write the
//! [`registry`] makes, reading other objects from [`client`]'s watch-backed cache. [`scheduler`] places pods on
//! nodes with the catalog's scheduler plugins, through the registry's binding subresource.
//! [`node`] is the node agent: a client of the API over HTTP that runs the pods bound to its
//! node (WASI components in wasmtime), with images from an [`oci`] image layout.

pub mod admission;
pub mod api;
pub mod catalog;
pub mod client;
pub mod cluster;
pub mod controller;
pub mod kubeconfig;
pub mod node;
pub mod object;
pub mod oci;
pub mod plugin;
pub mod registry;
pub mod scheduler;
pub mod store;
pub mod watch;

/// Every program built on the kernel allocates through jemalloc. Serving a write parses,
/// copies and drops many small JSON values: with glibc's allocator the API's threads spent
/// a quarter of their time in malloc and free, and jemalloc cut their CPU per pod by a fifth
/// in the scheduler bench (mimalloc, tried too, returned its pages to the system and took
/// them back faulted and zeroed).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
