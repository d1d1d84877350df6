//! Scheduler plugins: `filter` and `score` one pod over every candidate node in one call.
//! Nodes (and, for plugins that ask, what each node has allocated and the placed pods) are
//! resident in the plugin; per pod only node indexes cross the boundary.
//!
//! A plugin is a type implementing [`Scheduler`]: built from its configuration, it keeps
//! the tables the host syncs and answers `filter` and `score` over them. The same type
//! runs natively (tests, benchmarks) by calling its methods directly.
//!
//! [`Rows`] is the resident table by index that `sync_nodes`, `sync_usage` and `sync_pods`
//! maintain;
//! [`testing`] builds the records for plugins' unit tests.

use std::collections::HashMap;

mod rows;
pub mod testing;

pub use rows::Rows;

pub use bindings::exports::keel::plugin::scheduler::{
    Candidates, Capabilities, FilterResult, Node, NodeUsage, PlacedPod, Pod, PodFields, Resources,
    Taint, TaintEffect, Toleration, TolerationOperator,
};

crate::world!("scheduler-plugin");

/// A scheduler plugin's state and logic.
pub trait Scheduler: Sized {
    /// Builds the plugin from its configuration (the JSON of `spec.config`, `null` when
    /// unset).
    fn new(config: &str) -> Result<Self, PluginError>;

    /// Which calls the plugin implements and what it reads.
    fn capabilities(&self) -> Capabilities;

    /// Adds or replaces nodes (by index) and forgets `removed`.
    fn sync_nodes(&mut self, upserts: Vec<Node>, removed: Vec<u32>);

    /// Adds or replaces placed pods (by index) and forgets `removed`; called only when
    /// [`Capabilities::reads_pods`].
    fn sync_pods(&mut self, upserts: Vec<PlacedPod>, removed: Vec<u32>) {
        let _ = (upserts, removed);
    }

    /// Adds or replaces nodes' usage (by node index) and forgets `removed`; called only
    /// when [`Capabilities::reads_usage`].
    fn sync_usage(&mut self, upserts: Vec<NodeUsage>, removed: Vec<u32>) {
        let _ = (upserts, removed);
    }

    /// Which candidates can run `pod`; called only when [`Capabilities::filters`].
    fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        Ok(FilterResult::all_feasible(pod, nodes))
    }

    /// A score in 0..=100 per candidate; called only when [`Capabilities::scores`].
    fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        let _ = pod;
        Ok(vec![0; nodes.index.len()])
    }
}

impl Capabilities {
    /// A filter that reads neither usage nor pods.
    pub const FILTER: Capabilities = Capabilities {
        filters: true,
        scores: false,
        reads_usage: false,
        reads_pods: false,
        filter_needs: None,
        score_needs: None,
    };

    /// A scorer that reads neither usage nor pods.
    pub const SCORE: Capabilities = Capabilities {
        filters: false,
        scores: true,
        reads_usage: false,
        reads_pods: false,
        filter_needs: None,
        score_needs: None,
    };

    /// These capabilities, also filtering.
    pub const fn filtering(mut self) -> Capabilities {
        self.filters = true;
        self
    }

    /// These capabilities, also scoring.
    pub const fn scoring(mut self) -> Capabilities {
        self.scores = true;
        self
    }

    /// These capabilities, also reading the usage columns.
    pub const fn with_usage(mut self) -> Capabilities {
        self.reads_usage = true;
        self
    }

    /// These capabilities, also keeping a pod table.
    pub const fn with_pods(mut self) -> Capabilities {
        self.reads_pods = true;
        self
    }

    /// These capabilities, with `filter` skipped for pods that set none of `fields`.
    pub fn filter_needs(mut self, fields: PodFields) -> Capabilities {
        self.filter_needs = Some(fields);
        self
    }

    /// These capabilities, with `score` skipped for pods that set none of `fields`.
    pub fn score_needs(mut self, fields: PodFields) -> Capabilities {
        self.score_needs = Some(fields);
        self
    }
}

impl FilterResult {
    /// Every candidate feasible.
    pub fn all_feasible(_pod: &Pod, nodes: &Candidates) -> FilterResult {
        FilterResult {
            codes: vec![0; nodes.index.len()],
            reasons: Vec::new(),
        }
    }
}

/// Builds a [`FilterResult`] one candidate at a time, storing each distinct list of
/// reasons once however many nodes share it.
#[derive(Default)]
pub struct Verdicts {
    codes: Vec<u16>,
    reasons: Vec<Vec<String>>,
    known: HashMap<Vec<String>, u16>,
}

impl Verdicts {
    /// A builder for `n` candidates.
    pub fn with_capacity(n: usize) -> Verdicts {
        Verdicts {
            codes: Vec::with_capacity(n),
            ..Verdicts::default()
        }
    }

    /// The next candidate is feasible.
    pub fn feasible(&mut self) {
        self.codes.push(0);
    }

    /// The next candidate is not, for `reasons` (as Kubernetes words them).
    pub fn infeasible(&mut self, reasons: Vec<String>) -> Result<(), PluginError> {
        let code = match self.known.get(&reasons) {
            Some(&code) => code,
            None => {
                let code = u16::try_from(self.reasons.len() + 1)
                    .map_err(|_| PluginError::new("too many distinct reasons"))?;
                self.known.insert(reasons.clone(), code);
                self.reasons.push(reasons);
                code
            }
        };
        self.codes.push(code);
        Ok(())
    }

    /// The next candidate is not, for one reason. A reason already seen costs no allocation
    /// (this runs once per refused node).
    pub fn infeasible_for(&mut self, reason: &str) -> Result<(), PluginError> {
        let seen = self
            .reasons
            .iter()
            .position(|r| matches!(r.as_slice(), [only] if only == reason));
        match seen {
            // Codes were checked to fit in u16 when the reason was stored.
            Some(position) => {
                self.codes.push(position as u16 + 1);
                Ok(())
            }
            None => self.infeasible(vec![reason.to_string()]),
        }
    }

    /// The filter result when each candidate has at most one reason: `reason(index)` says
    /// why node `index` cannot run the pod, or `None` when it can.
    pub fn one_reason_each<R: AsRef<str>>(
        nodes: &Candidates,
        mut reason: impl FnMut(u32) -> Result<Option<R>, PluginError>,
    ) -> Result<FilterResult, PluginError> {
        let mut verdicts = Verdicts::with_capacity(nodes.index.len());
        for &index in &nodes.index {
            match reason(index)? {
                None => verdicts.feasible(),
                Some(reason) => verdicts.infeasible_for(reason.as_ref())?,
            }
        }
        Ok(verdicts.finish())
    }

    /// The result.
    pub fn finish(self) -> FilterResult {
        FilterResult {
            codes: self.codes,
            reasons: self.reasons,
        }
    }
}

/// Exports a type implementing [`Scheduler`] as the plugin's `keel:plugin/scheduler`. The
/// plugin is built from its configuration on the first call; a configuration it refuses
/// makes every `filter` and `score` answer that error.
#[macro_export]
macro_rules! export_scheduler {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        mod __keel_scheduler_export {
            use super::$plugin;
            use $crate::scheduler::{
                Candidates, Capabilities, FilterResult, Node, NodeUsage, PlacedPod, PluginError,
                Pod, Scheduler,
            };

            thread_local! {
                static STATE: ::std::cell::RefCell<Option<Result<$plugin, PluginError>>> =
                    const { ::std::cell::RefCell::new(None) };
            }

            fn with<R>(f: impl FnOnce(&mut Result<$plugin, PluginError>) -> R) -> R {
                STATE.with_borrow_mut(|state| {
                    let state = state.get_or_insert_with(|| {
                        <$plugin as Scheduler>::new(&$crate::scheduler::host::config())
                    });
                    f(state)
                })
            }

            struct Export;

            impl $crate::scheduler::bindings::exports::keel::plugin::scheduler::Guest for Export {
                fn describe() -> Capabilities {
                    with(|state| match state {
                        Ok(plugin) => plugin.capabilities(),
                        // Filter, so the configuration error reaches the caller.
                        Err(_) => Capabilities::FILTER,
                    })
                }
                fn sync_nodes(upserts: Vec<Node>, removed: Vec<u32>) {
                    with(|state| {
                        if let Ok(plugin) = state {
                            plugin.sync_nodes(upserts, removed)
                        }
                    })
                }
                fn sync_pods(upserts: Vec<PlacedPod>, removed: Vec<u32>) {
                    with(|state| {
                        if let Ok(plugin) = state {
                            plugin.sync_pods(upserts, removed)
                        }
                    })
                }
                fn sync_usage(upserts: Vec<NodeUsage>, removed: Vec<u32>) {
                    with(|state| {
                        if let Ok(plugin) = state {
                            plugin.sync_usage(upserts, removed)
                        }
                    })
                }
                fn filter(pod: Pod, nodes: Candidates) -> Result<FilterResult, PluginError> {
                    with(|state| match state {
                        Ok(plugin) => plugin.filter(&pod, &nodes),
                        Err(error) => Err(error.clone()),
                    })
                }
                fn score(pod: Pod, nodes: Candidates) -> Result<Vec<u32>, PluginError> {
                    with(|state| match state {
                        Ok(plugin) => plugin.score(&pod, &nodes),
                        Err(error) => Err(error.clone()),
                    })
                }
            }

            $crate::scheduler::bindings::export!(Export with_types_in $crate::scheduler::bindings);
        }
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn(&str) -> Result<$plugin, $crate::scheduler::PluginError> =
            <$plugin as $crate::scheduler::Scheduler>::new;
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_distinct_reason_list_is_stored_once() {
        let nodes = testing::candidates(&[0, 1, 2, 3, 4]);
        let result = Verdicts::one_reason_each(&nodes, |index| {
            Ok(match index {
                0 | 3 => None,
                1 | 4 => Some("node(s) were unschedulable"),
                _ => Some("Insufficient cpu"),
            })
        })
        .expect("answered");
        assert_eq!(result.codes, vec![0, 1, 2, 0, 1]);
        assert_eq!(
            result.reasons,
            vec![
                vec!["node(s) were unschedulable".to_string()],
                vec!["Insufficient cpu".to_string()]
            ]
        );
        let mut verdicts = Verdicts::default();
        verdicts
            .infeasible(vec!["a".into(), "b".into()])
            .expect("stored");
        verdicts.infeasible_for("a").expect("stored");
        verdicts
            .infeasible(vec!["a".into(), "b".into()])
            .expect("stored");
        let result = verdicts.finish();
        assert_eq!(result.codes, vec![1, 2, 1], "[a] is not [a, b]");
        let error = Verdicts::one_reason_each(&nodes, |_| {
            Err::<Option<&str>, _>(PluginError::new("node index 9 was never synced"))
        });
        assert!(error.is_err());
    }
}
