//! What a reconcile does to the ReplicaSets: scale only (paused, or the replica count
//! changed), or roll out by the Deployment's strategy.

pub mod recreate;
pub mod rolling;
pub mod scale;
