//! What the kernel's hosts (the plugin catalog now; the scheduler, controllers and node
//! agent next) use to read the API in process: a [`Watcher`] that lists a kind and follows
//! its changes, relisting when the history no longer reaches back, as kube-runtime's
//! `watcher` does, and an [`cache::ObjectCache`] of some kinds kept by watchers (kube-runtime's
//! reflector). Hosts write through [`crate::registry::Objects`], like any client.
//! [`http::ApiClient`] is the `keel` command's client for a remote server.

pub mod cache;
pub mod http;
mod watcher;

pub use watcher::{WatchEvent, Watcher};
