//! Scenario tests of the controller against a small simulated cluster ([`cluster`]), one
//! file per documented behaviour of Kubernetes' Deployment controller.

mod cluster;
mod create;
mod errors;
mod history;
mod ownership;
mod paused;
mod recreate;
mod rollback;
mod rolling;
mod scale;
mod status;
