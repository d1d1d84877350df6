//! Admission calls made in an async task, on a runtime with a single worker: a plugin that
//! loops yields the worker at every epoch tick until its deadline, and one that panics or
//! reaches for WASI (its stderr, the file system, a socket) answers with a typed error or
//! a refusal, never by taking the runtime down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::hostile::{assert_stopped_at_deadline, unmetered};
use super::request;
use keel::plugin::{CallErrorKind, EmptyView, Limits, Plugin, PluginHost};

fn hostile(host: &PluginHost, limits: Limits) -> Arc<Plugin> {
    Arc::new(super::hostile::hostile(host, limits))
}

/// Validates a pod named `name` with `plugin` in a task on `runtime`'s one worker, while
/// another task on that worker counts millisecond ticks: the answer (warnings or the
/// error's kind), how long it took, and the ticks counted meanwhile.
fn validate_in_task(
    runtime: &tokio::runtime::Runtime,
    plugin: &Arc<Plugin>,
    name: &'static str,
) -> (Result<Vec<String>, CallErrorKind>, Duration, u64) {
    let plugin = plugin.clone();
    runtime.block_on(async move {
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        // Let the ticker start before the call shares the worker with it.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let before = ticks.load(Ordering::Relaxed);
        let start = Instant::now();
        let answer = tokio::spawn(async move {
            plugin
                .validate_async(EmptyView::shared(), &request("Pod", name, None))
                .await
                .map(|v| v.warnings)
                .map_err(|e| e.kind)
        })
        .await
        .unwrap_or_else(|e| panic!("the calling task failed: {e}"));
        let took = start.elapsed();
        let during = ticks.load(Ordering::Relaxed) - before;
        ticker.abort();
        (answer, took, during)
    })
}

fn one_worker() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

#[test]
fn a_loop_yields_the_worker_at_every_tick_until_its_deadline() {
    let host = PluginHost::new(None);
    let plugin = hostile(&host, unmetered(200));
    let runtime = one_worker();
    let (answer, took, ticks) = validate_in_task(&runtime, &plugin, "loop");
    assert_eq!(answer, Err(CallErrorKind::Timeout { millis: 200 }));
    assert_stopped_at_deadline(took, 200);
    // The ticker shares the only worker: it runs only when the loop yields.
    assert!(
        ticks >= 20,
        "the worker served the other task while the loop ran: {ticks} ticks in {took:?}"
    );
    let (calm, _, _) = validate_in_task(&runtime, &plugin, "calm");
    assert_eq!(calm, Ok(vec!["hostile:calm".to_string()]));
}

#[test]
fn a_panic_or_a_reach_for_wasi_in_a_task_is_answered_on_the_worker() {
    let host = PluginHost::new(None);
    let plugin = hostile(&host, Limits::default());
    let runtime = one_worker();
    // The panic message goes to the plugin's stderr through WASI before the trap.
    let (panicked, _, _) = validate_in_task(&runtime, &plugin, "panic");
    assert!(
        matches!(&panicked, Err(CallErrorKind::Trap(_))),
        "{panicked:?}"
    );
    // File system, environment and socket: each refused, as on a thread of its own.
    let (escape, _, _) = validate_in_task(&runtime, &plugin, "escape");
    let warnings = escape.unwrap_or_else(|e| panic!("escape: {e:?}"));
    assert_eq!(warnings.len(), 5, "{warnings:?}");
    assert!(warnings[0].starts_with("file: Err"), "{warnings:?}");
    assert!(warnings[4].starts_with("socket: Err"), "{warnings:?}");
    let (calm, _, _) = validate_in_task(&runtime, &plugin, "calm");
    assert_eq!(calm, Ok(vec!["hostile:calm".to_string()]));
}
