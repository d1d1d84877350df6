//! Live swaps: a caller calling without pause while the plugin is replaced 100 times,
//! alternating modules and configurations, sees every call answered by the old or the new
//! version and never an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use keel::plugin::EmptyView;
use keel::plugin::{CallStats, Limits, PluginHost, PluginSlot, PluginType};
use keel_plugin_artifacts as artifacts;
use serde_json::json;

use super::{bytes, request, spec};

const SWAPS: usize = 100;

#[test]
fn a_plugin_swapped_100_times_under_load_answers_every_call() {
    let host = PluginHost::new(None);
    let modules = [
        ("echo", bytes(artifacts::ECHO)),
        ("hostile", bytes(artifacts::HOSTILE)),
    ];
    let stats = Arc::new(CallStats::default());
    let version = |i: usize| {
        let (prefix, module) = &modules[i % 2];
        let spec = spec(
            PluginType::Admission,
            module,
            json!({"tag": i.to_string()}),
            Limits::default(),
        );
        let plugin = host
            .load("swapped", spec, module, stats.clone())
            .unwrap_or_else(|e| panic!("version {i}: {e}"));
        (plugin, format!("{prefix}:{i}"))
    };
    let (first, _) = version(0);
    let slot = Arc::new(PluginSlot::new(first, stats.clone()));
    let done = Arc::new(AtomicBool::new(false));

    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (slot, done) = (slot.clone(), done.clone());
            thread::spawn(move || {
                let mut answers: Vec<usize> = vec![];
                while !done.load(Ordering::Acquire) {
                    let warnings = slot
                        .current()
                        .validate(EmptyView::shared(), &request("Pod", "p", None))
                        .map(|v| v.warnings);
                    let warnings =
                        warnings.unwrap_or_else(|e| panic!("a call failed during swaps: {e}"));
                    let tag = warnings
                        .first()
                        .and_then(|w| w.rsplit(':').next())
                        .and_then(|t| t.parse().ok());
                    answers.push(tag.unwrap_or_else(|| panic!("answer {warnings:?}")));
                }
                answers
            })
        })
        .collect();

    for i in 1..=SWAPS {
        let (next, expected) = version(i);
        slot.swap(next);
        let answer = slot
            .current()
            .validate(EmptyView::shared(), &request("Pod", "p", None))
            .map(|v| v.warnings)
            .map_err(|e| e.to_string());
        assert_eq!(
            answer,
            Ok(vec![expected]),
            "the new version serves as soon as it is swapped in"
        );
    }
    done.store(true, Ordering::Release);

    for caller in callers {
        let answers = caller.join().unwrap_or_else(|_| panic!("caller panicked"));
        assert!(!answers.is_empty());
        assert!(
            answers.windows(2).all(|w| w[0] <= w[1]),
            "a caller saw an older version after a newer one"
        );
        assert!(answers.iter().all(|&t| t <= SWAPS));
    }
    let stats = stats.snapshot();
    assert_eq!(stats.errors, 0, "{stats:?}");
    assert!(stats.calls > SWAPS as u64, "{stats:?}");
}
