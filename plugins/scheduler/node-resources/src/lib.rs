//! Scheduler plugin: Kubernetes' `NodeResourcesFit` filter and `LeastAllocated` scorer.
//!
//! Filter: a node fits when, for cpu, memory, pods and each extended resource the pod
//! requests, what is allocatable minus what is already used covers the request; otherwise
//! it reports every resource that falls short ("Insufficient cpu", "Too many pods").
//! Score: the mean over cpu and memory of the share left free after placing the pod,
//! 0..=100 (more free scores higher), as Kubernetes' `LeastAllocated` strategy does.
//!
//! The node table is resident: `sync_nodes` keeps each node's allocatable by its index,
//! so a call carries only indexes and usage columns. The logic is plain Rust over the SDK's
//! types ([`NodeTable`]), compiled natively as well for the benchmark's comparison.

use std::cell::RefCell;

use keel_sdk::scheduler::{Candidates, FilterResult, Node, PluginError, Pod, Resources, Scheduler};

/// The largest score a node can get.
pub const MAX_SCORE: u64 = 100;

/// What a node can allocate, by node index.
#[derive(Default)]
pub struct NodeTable {
    allocatable: Vec<Option<Resources>>,
}

impl NodeTable {
    /// Adds or replaces `upserts` and forgets `removed`.
    pub fn sync(&mut self, upserts: Vec<Node>, removed: Vec<u32>) {
        for index in removed {
            if let Some(slot) = self.allocatable.get_mut(index as usize) {
                *slot = None;
            }
        }
        for node in upserts {
            let index = node.index as usize;
            if self.allocatable.len() <= index {
                self.allocatable.resize_with(index + 1, || None);
            }
            self.allocatable[index] = Some(node.allocatable);
        }
    }

    fn node(&self, index: u32) -> Result<&Resources, PluginError> {
        self.allocatable
            .get(index as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| PluginError::new(format!("node index {index} was never synced")))
    }

    /// NodeResourcesFit over every candidate. Each node's shortfalls are a bitmask (cpu,
    /// memory, pods, then each extended resource); reason strings are made once per
    /// distinct mask, not per node.
    pub fn filter(&self, pod: &Pod, nodes: &Candidates) -> Result<FilterResult, PluginError> {
        check_columns(pod, nodes)?;
        let request = &pod.requests;
        if request.extended.len() > MAX_EXTENDED {
            return Err(PluginError::new(format!(
                "at most {MAX_EXTENDED} extended resources per pod"
            )));
        }
        let n = nodes.index.len();
        let mut codes = Vec::with_capacity(n);
        let mut masks: Vec<u64> = Vec::new();
        for (i, &index) in nodes.index.iter().enumerate() {
            let node = self.node(index)?;
            let mut mask = 0u64;
            if request.milli_cpu > 0
                && free(node.milli_cpu, nodes.used_milli_cpu[i]) < request.milli_cpu
            {
                mask |= CPU;
            }
            if request.memory > 0 && free(node.memory, nodes.used_memory[i]) < request.memory {
                mask |= MEMORY;
            }
            if free(node.pods, nodes.used_pods[i]) < 1 {
                mask |= PODS;
            }
            for (j, (name, amount)) in request.extended.iter().enumerate() {
                let have = node
                    .extended
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, a)| *a);
                if *amount > 0 && free(have, nodes.used_extended[j * n + i]) < *amount {
                    mask |= 1 << (FIRST_EXTENDED + j);
                }
            }
            if mask == 0 {
                codes.push(0);
                continue;
            }
            let position = match masks.iter().position(|&m| m == mask) {
                Some(position) => position,
                None => {
                    masks.push(mask);
                    masks.len() - 1
                }
            };
            codes.push(
                u16::try_from(position + 1)
                    .map_err(|_| PluginError::new("too many distinct reasons"))?,
            );
        }
        let reasons = masks.iter().map(|&mask| reasons(mask, request)).collect();
        Ok(FilterResult { codes, reasons })
    }

    /// LeastAllocated over every candidate.
    pub fn score(&self, pod: &Pod, nodes: &Candidates) -> Result<Vec<u32>, PluginError> {
        check_columns(pod, nodes)?;
        let request = &pod.requests;
        let mut scores = Vec::with_capacity(nodes.index.len());
        for (i, &index) in nodes.index.iter().enumerate() {
            let node = self.node(index)?;
            let cpu = least_allocated(node.milli_cpu, nodes.used_milli_cpu[i] + request.milli_cpu);
            let memory = least_allocated(node.memory, nodes.used_memory[i] + request.memory);
            scores.push(((cpu + memory) / 2) as u32);
        }
        Ok(scores)
    }
}

const CPU: u64 = 1;
const MEMORY: u64 = 1 << 1;
const PODS: u64 = 1 << 2;
const FIRST_EXTENDED: usize = 3;
/// Extended resources a pod may request (bits of the shortfall mask).
pub const MAX_EXTENDED: usize = 64 - FIRST_EXTENDED;

/// The reasons a shortfall mask stands for, as Kubernetes words them.
fn reasons(mask: u64, request: &Resources) -> Vec<String> {
    let mut reasons = Vec::new();
    for (bit, reason) in [
        (CPU, "Insufficient cpu"),
        (MEMORY, "Insufficient memory"),
        (PODS, "Too many pods"),
    ] {
        if mask & bit != 0 {
            reasons.push(reason.to_string());
        }
    }
    for (j, (name, _)) in request.extended.iter().enumerate() {
        if mask & (1 << (FIRST_EXTENDED + j)) != 0 {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

fn free(allocatable: u64, used: u64) -> u64 {
    allocatable.saturating_sub(used)
}

/// `(capacity - requested) * 100 / capacity`, 0 when nothing is left or nothing is there.
fn least_allocated(capacity: u64, requested: u64) -> u64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_SCORE / capacity
}

fn check_columns(pod: &Pod, nodes: &Candidates) -> Result<(), PluginError> {
    let n = nodes.index.len();
    let columns = [
        nodes.used_milli_cpu.len(),
        nodes.used_memory.len(),
        nodes.used_pods.len(),
    ];
    if columns.iter().any(|&len| len != n)
        || nodes.used_extended.len() != n * pod.requests.extended.len()
    {
        return Err(PluginError::new("candidate columns differ in length"));
    }
    Ok(())
}

thread_local! {
    static TABLE: RefCell<NodeTable> = RefCell::new(NodeTable::default());
}

struct NodeResources;

impl Scheduler for NodeResources {
    fn sync_nodes(upserts: Vec<Node>, removed: Vec<u32>) {
        TABLE.with_borrow_mut(|table| table.sync(upserts, removed));
    }

    fn filter(pod: Pod, nodes: Candidates) -> Result<FilterResult, PluginError> {
        TABLE.with_borrow(|table| table.filter(&pod, &nodes))
    }

    fn score(pod: Pod, nodes: Candidates) -> Result<Vec<u32>, PluginError> {
        TABLE.with_borrow(|table| table.score(&pod, &nodes))
    }
}

keel_sdk::export_scheduler!(NodeResources);
