//! The hosts that act on the cluster (the scheduler and the controllers) run on
//! one member at a time: the Raft leader. They start when this member becomes
//! leader and stop when it stops being leader, so two members never schedule
//! or reconcile at once (beyond the call in flight when leadership moves,
//! whose writes are still guarded by resourceVersion and uid preconditions).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tokio::sync::watch;

use crate::catalog::Catalog;
use crate::controller::ControllerHost;
use crate::registry::Objects;
use crate::scheduler::{CatalogPlugins, Scheduler, SchedulerConfig};

/// The leader-only hosts of one member.
pub struct LeaderHosts {
    controllers: Arc<ArcSwapOption<ControllerHost>>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaderHosts {
    /// Runs the hosts whenever `leading` says this member leads.
    pub fn start(
        objects: Objects,
        catalog: Arc<Catalog>,
        scheduler: Option<SchedulerConfig>,
        leading: watch::Receiver<bool>,
    ) -> LeaderHosts {
        let controllers = Arc::new(ArcSwapOption::empty());
        let task = tokio::spawn(follow(
            objects,
            catalog,
            scheduler,
            leading,
            controllers.clone(),
        ));
        LeaderHosts { controllers, task }
    }

    /// The controller host, while this member leads.
    pub fn controllers(&self) -> Option<Arc<ControllerHost>> {
        self.controllers.load_full()
    }

    /// Stops the hosts.
    pub fn stop(&self) {
        self.task.abort();
        if let Some(controllers) = self.controllers.swap(None) {
            controllers.abort();
        }
    }
}

/// Stops the hosts when dropped (also when the following task is aborted).
struct Started {
    scheduler: Option<Scheduler>,
    controllers: Arc<ControllerHost>,
    published: Arc<ArcSwapOption<ControllerHost>>,
}

impl Drop for Started {
    fn drop(&mut self) {
        self.published.store(None);
        self.controllers.abort();
        if let Some(scheduler) = self.scheduler.take() {
            // Joins the scheduler's thread after the cycle under way (a short wait).
            scheduler.stop();
        }
    }
}

async fn follow(
    objects: Objects,
    catalog: Arc<Catalog>,
    scheduler: Option<SchedulerConfig>,
    mut leading: watch::Receiver<bool>,
    published: Arc<ArcSwapOption<ControllerHost>>,
) {
    loop {
        if leading.wait_for(|l| *l).await.is_err() {
            return;
        }
        let scheduler = match &scheduler {
            Some(config) => match Scheduler::start(
                objects.clone(),
                Arc::new(CatalogPlugins::new(catalog.clone())),
                config.clone(),
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!("cannot start the scheduler: {e}");
                    None
                }
            },
            None => None,
        };
        let controllers = Arc::new(ControllerHost::start(objects.clone(), catalog.clone()));
        published.store(Some(controllers.clone()));
        tracing::info!("leading: the scheduler and controllers run on this member");
        let started = Started {
            scheduler,
            controllers,
            published: published.clone(),
        };
        let lost = leading.wait_for(|l| !*l).await;
        drop(started);
        if lost.is_err() {
            return;
        }
        tracing::info!("no longer leading: the scheduler and controllers stopped here");
    }
}
