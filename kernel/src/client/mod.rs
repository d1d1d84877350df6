//! How the kernel's hosts read the API. In process: a [`Watcher`] that lists a kind and
//! follows its changes, relisting when the history no longer reaches back, as kube-runtime's
//! `watcher` does, and an [`cache::ObjectCache`] of some kinds kept by watchers (kube-runtime's
//! reflector); hosts write through [`crate::registry::Objects`], like any client. Over HTTP:
//! [`http::ApiClient`] (the `keel` command's and the node agent's client) and
//! [`RemoteWatcher`], the same watcher for a remote server.

pub mod cache;
pub mod http;
mod remote_watcher;
mod watcher;

pub use remote_watcher::RemoteWatcher;
pub use watcher::{WatchEvent, Watcher};
