//! What is refused at load: another contract version, the wrong plugin type, bytes that
//! are not a component, bytes that do not match their digest, a module that cannot say what
//! it implements. And the compile cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keel::plugin::EmptyView;
use keel::plugin::{CallStats, Limits, LoadError, PluginHost, PluginType};
use keel_plugin_artifacts as artifacts;
use serde_json::json;

use super::{bytes, load, request, spec};

fn refusal(plugin_type: PluginType, bytes: &[u8]) -> LoadError {
    configured_refusal(plugin_type, bytes, json!(null), Limits::default())
}

fn configured_refusal(
    plugin_type: PluginType,
    bytes: &[u8],
    config: serde_json::Value,
    limits: Limits,
) -> LoadError {
    let host = PluginHost::new(None);
    let spec = spec(plugin_type, bytes, config, limits);
    match host.load("refused", spec, bytes, Arc::new(CallStats::default())) {
        Ok(_) => panic!("loaded"),
        Err(error) => error,
    }
}

#[test]
fn another_contract_version_is_refused_naming_the_version_it_wants() {
    let error = refusal(PluginType::Admission, &bytes(artifacts::FUTURE_CONTRACT));
    assert_eq!(
        error,
        LoadError::ContractVersion {
            wants: "0.3.0".into(),
            speaks: "0.2.0".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "module was built against keel:plugin@0.3.0; this host speaks keel:plugin@0.2.0"
    );
}

#[test]
fn a_module_of_another_type_is_refused() {
    let error = refusal(PluginType::Scheduler, &bytes(artifacts::IMAGE_POLICY));
    assert!(
        matches!(&error, LoadError::WrongType { expected, exports, .. } if expected == "scheduler" && exports.contains("keel:plugin/admission@0.2.0")),
        "{error}"
    );
}

#[test]
fn a_module_whose_describe_traps_or_never_answers_is_refused_at_load() {
    let hostile = bytes(artifacts::HOSTILE);
    let limits = Limits {
        timeout_millis: 100,
        fuel: None,
        ..Limits::default()
    };
    let started = Instant::now();
    let error = configured_refusal(
        PluginType::Admission,
        &hostile,
        json!({"describe": "panic"}),
        limits.clone(),
    );
    assert!(
        matches!(&error, LoadError::Describe(m) if m.contains("trapped")),
        "{error}"
    );
    assert_eq!(error.reason(), "DescribeFailed");
    let error = configured_refusal(
        PluginType::Admission,
        &hostile,
        json!({"describe": "loop"}),
        limits,
    );
    assert!(
        matches!(&error, LoadError::Describe(m) if m.contains("deadline of 100 ms")),
        "{error}"
    );
    // The loop was stopped by its deadline: loading did not hang.
    assert!(started.elapsed() < Duration::from_secs(10));
    // Described normally, the same module loads, as a plugin that only validates.
    let loaded = load(
        &PluginHost::new(None),
        "hostile",
        PluginType::Admission,
        artifacts::HOSTILE,
        json!({"describe": "no"}),
        Limits::default(),
    );
    assert!(loaded.admission_steps().validates);
    assert!(!loaded.admission_steps().mutates);
}

#[test]
fn bytes_that_are_not_a_component_are_refused() {
    let error = refusal(PluginType::Admission, b"\0asm not really");
    assert!(matches!(error, LoadError::Compile(_)), "{error}");
}

#[test]
fn bytes_that_do_not_match_the_digest_are_refused() {
    let host = PluginHost::new(None);
    let good = bytes(artifacts::ECHO);
    let spec = spec(PluginType::Admission, &good, json!(null), Limits::default());
    let error = host
        .load(
            "echo",
            spec,
            &bytes(artifacts::HOSTILE),
            Arc::new(CallStats::default()),
        )
        .err();
    assert!(
        matches!(error, Some(LoadError::DigestMismatch { .. })),
        "{error:?}"
    );
}

#[test]
fn a_module_that_cannot_fit_its_memory_cap_is_refused_at_load() {
    let host = PluginHost::new(None);
    let good = bytes(artifacts::ECHO);
    let spec = spec(
        PluginType::Admission,
        &good,
        json!(null),
        Limits {
            memory_bytes: 64 << 10,
            ..Limits::default()
        },
    );
    let error = host
        .load("echo", spec, &good, Arc::new(CallStats::default()))
        .err();
    assert!(
        matches!(&error, Some(LoadError::Instantiate(m)) if m.contains("memory")),
        "{error:?}"
    );
}

#[test]
fn compiled_components_are_cached_on_disk_and_a_corrupt_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = bytes(artifacts::ECHO);
    let load = || {
        let host = PluginHost::new(Some(dir.path().to_path_buf()));
        let spec = spec(
            PluginType::Admission,
            &good,
            json!({"tag": "cached"}),
            Limits::default(),
        );
        let plugin = host
            .load("echo", spec, &good, Arc::new(CallStats::default()))
            .unwrap_or_else(|e| panic!("{e}"));
        plugin
            .validate(EmptyView::shared(), &request("Pod", "p", None))
            .map(|v| v.warnings)
            .map_err(|e| e.to_string())
    };
    assert_eq!(load(), Ok(vec!["echo:cached".to_string()]));
    let files: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0]
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    assert!(name.starts_with("sha256-"), "{name}");
    let before = std::fs::metadata(&files[0]).map(|m| m.len()).unwrap_or(0);

    // A second host loads the cached machine code.
    assert_eq!(load(), Ok(vec!["echo:cached".to_string()]));

    // A torn file is detected by its checksum, recompiled and rewritten.
    std::fs::write(&files[0], b"torn").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(load(), Ok(vec!["echo:cached".to_string()]));
    assert_eq!(
        std::fs::metadata(&files[0]).map(|m| m.len()).unwrap_or(0),
        before
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path))
        } else {
            found.push(path)
        }
    }
    found
}
