//! Hostile plugins: each misbehaviour is stopped by its limit and reported as a typed
//! error for that call; the host, the plugin's next call and every other plugin go on.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use keel::plugin::EmptyView;
use keel::plugin::{CallErrorKind, Limits, Plugin, PluginHost, PluginType};
use keel_plugin_artifacts as artifacts;
use serde_json::json;

use super::{load, request};

/// The hostile test plugin with `limits`, configured with the tag `calm`.
pub(super) fn hostile(host: &PluginHost, limits: Limits) -> Plugin {
    load(
        host,
        "hostile",
        PluginType::Admission,
        artifacts::HOSTILE,
        json!({"tag": "calm"}),
        limits,
    )
}

/// After a misbehaving call, the same plugin answers its next call (on a fresh instance)
/// and a good plugin answers too.
fn still_serving(host: &PluginHost, plugin: &Plugin) {
    let calm = plugin
        .validate(EmptyView::shared(), &request("Pod", "calm", None))
        .map(|v| v.warnings)
        .map_err(|e| e.to_string());
    assert!(
        matches!(&calm, Ok(w) if w.len() == 1 && w[0].starts_with("hostile:")),
        "{calm:?}"
    );
    let good = load(
        host,
        "echo",
        PluginType::Admission,
        artifacts::ECHO,
        json!({"tag": "good"}),
        Limits::default(),
    );
    let answer = good
        .validate(EmptyView::shared(), &request("Pod", "p", None))
        .map(|v| v.warnings)
        .map_err(|e| e.to_string());
    assert_eq!(answer, Ok(vec!["echo:good".to_string()]));
}

/// Limits with no fuel budget, so only the deadline of `timeout_millis` stops a loop.
pub(super) fn unmetered(timeout_millis: u64) -> Limits {
    Limits {
        timeout_millis,
        fuel: None,
        ..Limits::default()
    }
}

/// A call that took `took` was stopped at its deadline of `millis`: not before it, and
/// within 100 ms after.
pub(super) fn assert_stopped_at_deadline(took: Duration, millis: u64) {
    assert!(
        took >= Duration::from_millis(millis),
        "stopped early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(millis + 100),
        "deadline {millis} ms, stopped after {took:?}"
    );
}

fn kind_of(plugin: &Plugin, name: &str) -> CallErrorKind {
    match plugin.validate(EmptyView::shared(), &request("Pod", name, None)) {
        Ok(answer) => panic!("{name}: answered {answer:?}"),
        Err(error) => {
            assert_eq!(error.plugin, "hostile");
            error.kind
        }
    }
}

#[test]
fn an_infinite_loop_is_stopped_at_its_deadline() {
    let host = PluginHost::new(None);
    let plugin = hostile(&host, unmetered(200));
    let start = Instant::now();
    assert_eq!(
        kind_of(&plugin, "loop"),
        CallErrorKind::Timeout { millis: 200 }
    );
    assert_stopped_at_deadline(start.elapsed(), 200);
    still_serving(&host, &plugin);
}

#[test]
fn an_infinite_loop_is_stopped_by_its_fuel_budget() {
    let host = PluginHost::new(None);
    let limits = Limits {
        timeout_millis: 60_000,
        fuel: Some(50_000_000),
        ..Limits::default()
    };
    let plugin = hostile(&host, limits);
    assert_eq!(
        kind_of(&plugin, "loop"),
        CallErrorKind::FuelExhausted { fuel: 50_000_000 }
    );
    still_serving(&host, &plugin);
}

#[test]
fn a_memory_bomb_is_stopped_at_its_cap() {
    let host = PluginHost::new(None);
    let limits = Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let plugin = hostile(&host, limits);
    assert_eq!(
        kind_of(&plugin, "memory"),
        CallErrorKind::MemoryLimit { bytes: 32 << 20 }
    );
    still_serving(&host, &plugin);
}

#[test]
fn a_panic_is_a_trap() {
    let host = PluginHost::new(None);
    let plugin = hostile(&host, Limits::default());
    let kind = kind_of(&plugin, "panic");
    assert!(
        matches!(&kind, CallErrorKind::Trap(m) if m.contains("unreachable")),
        "{kind:?}"
    );
    still_serving(&host, &plugin);
}

#[test]
fn deep_recursion_overflows_its_stack() {
    let host = PluginHost::new(None);
    let plugin = hostile(
        &host,
        Limits {
            stack_bytes: 256 << 10,
            ..Limits::default()
        },
    );
    assert_eq!(kind_of(&plugin, "recurse"), CallErrorKind::StackOverflow);
    still_serving(&host, &plugin);
}

#[test]
fn a_giant_answer_is_refused() {
    let host = PluginHost::new(None);
    let plugin = hostile(
        &host,
        Limits {
            answer_bytes: 1 << 20,
            ..Limits::default()
        },
    );
    let kind = kind_of(&plugin, "giant");
    assert!(
        matches!(&kind, CallErrorKind::BadAnswer(m) if m.contains("answer limit")),
        "{kind:?}"
    );
    still_serving(&host, &plugin);
}

#[test]
fn a_log_flood_is_cut_at_its_cap_and_the_call_answers() {
    let host = PluginHost::new(None);
    let plugin = hostile(
        &host,
        Limits {
            log_bytes: 4 << 10,
            ..Limits::default()
        },
    );
    let answer = plugin
        .validate(EmptyView::shared(), &request("Pod", "log-flood", None))
        .map(|v| v.warnings)
        .map_err(|e| e.to_string());
    assert_eq!(answer, Ok(vec!["flooded".to_string()]));
    still_serving(&host, &plugin);
}

#[test]
fn exit_ends_only_the_call() {
    let host = PluginHost::new(None);
    let plugin = hostile(&host, Limits::default());
    // WASI 0.2's `exit` carries success or failure only: exit(3) is a failure, status 1.
    assert_eq!(kind_of(&plugin, "exit"), CallErrorKind::Exited(1));
    still_serving(&host, &plugin);
}

#[test]
fn files_environment_and_sockets_are_denied() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let host = PluginHost::new(None);
    let plugin = load(
        &host,
        "hostile",
        PluginType::Admission,
        artifacts::HOSTILE,
        json!({"port": port}),
        Limits::default(),
    );
    let warnings = plugin
        .validate(EmptyView::shared(), &request("Pod", "escape", None))
        .map(|v| v.warnings)
        .unwrap_or_else(|e| panic!("{e}"));
    let [file, dir, env, cwd, socket] = warnings.as_slice() else {
        panic!("{warnings:?}")
    };
    assert!(file.starts_with("file: Err("), "{file}");
    assert!(dir.starts_with("dir: Err("), "{dir}");
    assert_eq!(env, "env: 0", "the host's environment must not be visible");
    assert!(
        cwd.starts_with("cwd: Err(") || cwd == "cwd: Ok(\"/\")",
        "{cwd}"
    );
    assert!(socket.starts_with("socket: Err("), "{socket}");
    let mut buffer = [0u8; 1];
    let connected = listener.accept().map(|(mut s, _)| s.read(&mut buffer));
    assert!(
        connected.is_err(),
        "the plugin reached the loopback listener"
    );
    still_serving(&host, &plugin);
}
