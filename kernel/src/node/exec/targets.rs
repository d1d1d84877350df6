//! The containers running on this node, by `namespace/pod/container`, with how to run a
//! command in each: a container task registers its run when it starts and the
//! registration goes with the run. A newer run of the same name (a restart, a new pod of
//! the same name) replaces the older, whose late removal then leaves it alone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::node::runtime::Exec;

/// What is known of a container an exec names.
pub enum Lookup {
    /// It is not running here.
    NotRunning,
    /// It runs on a runtime that cannot run commands in it.
    CannotExec,
    /// It runs, and this runs commands in it.
    Exec(Exec),
}

/// The node's running containers.
#[derive(Default)]
pub struct ExecTargets {
    running: Mutex<HashMap<String, (u64, Option<Exec>)>>,
    runs: AtomicU64,
}

fn key(namespace: &str, pod: &str, container: &str) -> String {
    format!("{namespace}/{pod}/{container}")
}

impl ExecTargets {
    /// Records a run of `container` in `namespace/pod`, until the registration is dropped.
    pub fn register(
        self: &Arc<Self>,
        namespace: &str,
        pod: &str,
        container: &str,
        exec: Option<Exec>,
    ) -> Registration {
        let key = key(namespace, pod, container);
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), (run, exec));
        Registration {
            targets: self.clone(),
            key,
            run,
        }
    }

    /// The container `namespace/pod/container`.
    pub fn lookup(&self, namespace: &str, pod: &str, container: &str) -> Lookup {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        match running.get(&key(namespace, pod, container)) {
            None => Lookup::NotRunning,
            Some((_, None)) => Lookup::CannotExec,
            Some((_, Some(exec))) => Lookup::Exec(exec.clone()),
        }
    }
}

/// A run's place in [`ExecTargets`], removed on drop.
pub struct Registration {
    targets: Arc<ExecTargets>,
    key: String,
    run: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut running = self
            .targets
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if running
            .get(&self.key)
            .is_some_and(|(run, _)| *run == self.run)
        {
            running.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_found_until_it_ends_and_a_newer_run_outlives_an_older() {
        let targets = Arc::new(ExecTargets::default());
        let exec: Exec = Arc::new(|argv: &[String], _tty| {
            let mut command = std::process::Command::new("true");
            command.args(argv);
            command
        });
        let first = targets.register("ns", "p", "c", Some(exec.clone()));
        assert!(matches!(targets.lookup("ns", "p", "c"), Lookup::Exec(_)));
        let second = targets.register("ns", "p", "c", Some(exec));
        drop(first);
        assert!(matches!(targets.lookup("ns", "p", "c"), Lookup::Exec(_)));
        drop(second);
        assert!(matches!(targets.lookup("ns", "p", "c"), Lookup::NotRunning));
        let _wasm = targets.register("ns", "w", "c", None);
        assert!(matches!(targets.lookup("ns", "w", "c"), Lookup::CannotExec));
    }
}
