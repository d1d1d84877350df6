//! Native tests of the collector over a `FakeView`: each file covers one documented
//! behaviour of Kubernetes' garbage collector.

mod attempt_delete;
mod cluster;
mod config;
mod fixtures;
mod foreground;
mod orphan;
