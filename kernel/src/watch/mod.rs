//! Watch: the recent history of applied changes and the fan-out to watchers.
//! The state machine publishes every applied event here, in revision order;
//! a watcher reads the events after its revision and waits for more. A watcher
//! asking for a revision older than the history holds gets [`Expired`], which
//! the API answers as 410 Gone, reason `Expired`, as Kubernetes does.

mod hub;

pub use hub::{Event, EventType, Expired, WatchHub};
