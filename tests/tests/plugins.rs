//! Plugins as objects, against a real `keel server` and the `keel plugin` command:
//! push (a small module and a chunked 18 MB Python one), Ready conditions, a refused module
//! that leaves the old one serving, a module that arrives after its Plugin, history and
//! rollback, `keel plugin ls`, and a spec with limits out of range.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keel_plugin_artifacts as artifacts;
use keel_tests::{Server, http_get, keel_binary, stdout_ok};
use serde_json::Value;
use sha2::Digest as _;

fn keel_plugin(server: &Server, args: &[&str]) -> Result<String> {
    let out = Command::new(keel_binary()?)
        .arg("plugin")
        .args(args)
        .args(["--server", &server.url()])
        .output()?;
    stdout_ok(&out)
}

fn plugin(server: &Server, name: &str) -> Result<Value> {
    let (code, body) = http_get(
        server.port,
        &format!("/apis/keel.dev/v1alpha1/plugins/{name}"),
    )?;
    if code != 200 {
        bail!("GET plugin {name}: {code} {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

/// Waits until the Plugin's status, for its current generation, satisfies `done`.
fn wait_status(server: &Server, name: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let object = plugin(server, name)?;
        let observed =
            object.pointer("/status/observedGeneration") == object.pointer("/metadata/generation");
        if observed && done(&object) {
            return Ok(object);
        }
        if Instant::now() > deadline {
            bail!(
                "plugin {name} never reached the status wanted: {}",
                object.get("status").unwrap_or(&Value::Null)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create_plugin(server: &Server, manifest: &str) -> Result<()> {
    let path = "/apis/keel.dev/v1alpha1/plugins";
    let (code, body) = keel_tests::http(
        server.port,
        "POST",
        path,
        "application/json",
        manifest.as_bytes(),
    )?;
    if code != 201 {
        bail!("creating a Plugin: {code} {body}");
    }
    Ok(())
}

fn ready(object: &Value) -> Option<&str> {
    object
        .pointer("/status/conditions/0/status")
        .and_then(Value::as_str)
}

fn reason(object: &Value) -> Option<&str> {
    object
        .pointer("/status/conditions/0/reason")
        .and_then(Value::as_str)
}

fn serving(object: &Value) -> Option<&str> {
    object
        .pointer("/status/hosts/0/module")
        .and_then(Value::as_str)
}

#[test]
fn push_refuse_roll_back_and_list() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;

    let echo = keel_plugin(
        &server,
        &[
            "push",
            artifacts::ECHO,
            "--name",
            "gate",
            "--type",
            "admission",
            "--config",
            r#"{"tag":"a"}"#,
        ],
    )?;
    let echo = echo.trim().to_string();
    assert!(echo.starts_with("sha256:") && echo.len() == 71, "{echo}");
    let object = wait_status(&server, "gate", |o| ready(o) == Some("True"))?;
    assert_eq!(serving(&object), Some(echo.as_str()));
    assert_eq!(reason(&object), Some("Loaded"));

    let hostile = keel_plugin(&server, &["push", artifacts::HOSTILE, "--name", "gate"])?
        .trim()
        .to_string();
    wait_status(&server, "gate", |o| {
        serving(o) == Some(hostile.as_str()) && ready(o) == Some("True")
    })?;

    // A module that is not a component is stored, but never replaces the one serving.
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x0d\0\x01\0this is not a component")?;
    keel_plugin(
        &server,
        &["push", garbage.to_str().context("path")?, "--name", "gate"],
    )?;
    let refused = wait_status(&server, "gate", |o| ready(o) == Some("False"))?;
    assert_eq!(reason(&refused), Some("CompileFailed"));
    assert_eq!(
        serving(&refused),
        Some(hostile.as_str()),
        "the refused module replaced the serving one"
    );

    let history = keel_plugin(&server, &["history", "gate"])?;
    assert_eq!(
        history.lines().count(),
        3,
        "a header and two revisions:\n{history}"
    );

    // Roll back past the refused spec: the revision before the serving one (echo).
    keel_plugin(&server, &["rollback", "gate"])?;
    let back = wait_status(&server, "gate", |o| ready(o) == Some("True"))?;
    assert_eq!(serving(&back), Some(echo.as_str()));
    assert_eq!(back.pointer("/spec/config/tag"), Some(&Value::from("a")));

    let list = keel_plugin(&server, &["ls"])?;
    let row = list
        .lines()
        .find(|l| l.starts_with("gate "))
        .with_context(|| format!("no row for gate:\n{list}"))?;
    assert!(
        row.contains("Admission") && row.contains("True") && row.contains(&echo[..19]),
        "{row}"
    );
    Ok(())
}

#[test]
fn a_plugin_waits_for_its_module_and_a_chunked_python_module_loads() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    let module = std::fs::read(artifacts::IMAGE_POLICY_PY)?;
    assert!(
        module.len() > 2 << 20,
        "the Python component spans several PluginModule parts"
    );
    let digest: String = sha2::Sha256::digest(&module)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let digest = format!("sha256:{digest}");

    let manifest = format!(
        r#"{{"apiVersion":"keel.dev/v1alpha1","kind":"Plugin","metadata":{{"name":"images"}},
            "spec":{{"type":"Admission","module":"{digest}","config":{{"allowedPrefixes":["registry.example/"]}}}}}}"#
    );
    create_plugin(&server, &manifest)?;
    let missing = wait_status(&server, "images", |o| ready(o) == Some("False"))?;
    assert_eq!(reason(&missing), Some("ModuleMissing"));

    let pushed = keel_plugin(&server, &["push", artifacts::IMAGE_POLICY_PY])?;
    assert_eq!(pushed.trim(), digest);
    let loaded = wait_status(&server, "images", |o| ready(o) == Some("True"))?;
    assert_eq!(serving(&loaded), Some(digest.as_str()));
    Ok(())
}

#[test]
fn a_spec_with_limits_out_of_range_is_refused_with_its_reason() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    let digest = keel_plugin(&server, &["push", artifacts::ECHO])?
        .trim()
        .to_string();
    let manifest = format!(
        r#"{{"apiVersion":"keel.dev/v1alpha1","kind":"Plugin","metadata":{{"name":"greedy"}},
            "spec":{{"type":"Admission","module":"{digest}","limits":{{"memoryBytes":1099511627776}}}}}}"#
    );
    create_plugin(&server, &manifest)?;
    let refused = wait_status(&server, "greedy", |o| ready(o) == Some("False"))?;
    assert_eq!(reason(&refused), Some("InvalidSpec"));
    let message = refused
        .pointer("/status/conditions/0/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(message.contains("memoryBytes"), "{message}");
    Ok(())
}

#[test]
fn plugins_named_at_start_are_created_once_and_admin_changes_survive_restarts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let seed = format!("gate=admission:{}", artifacts::ECHO);
    let mut server = Server::start(dir.path(), &["--plugin", &seed])?;
    wait_status(&server, "gate", |o| ready(o) == Some("True"))?;

    let patch = br#"{"spec":{"config":{"tag":"admin"}}}"#;
    let (code, body) = keel_tests::http(
        server.port,
        "PATCH",
        "/apis/keel.dev/v1alpha1/plugins/gate",
        "application/merge-patch+json",
        patch,
    )?;
    assert_eq!(code, 200, "{body}");
    server.restart()?;
    let after = wait_status(&server, "gate", |o| ready(o) == Some("True"))?;
    assert_eq!(
        after.pointer("/spec/config/tag"),
        Some(&Value::from("admin")),
        "the seed overwrote the admin's change"
    );

    let missing = Command::new(keel_binary()?)
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--plugin",
            "x=admission:/nonexistent/x.wasm",
            "--data-dir",
        ])
        .arg(dir.path().join("second"))
        .output()?;
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("plugin x: cannot read /nonexistent/x.wasm"),
        "{stderr}"
    );
    let bad = Command::new(keel_binary()?)
        .args(["server", "--plugin", "x=gardening:/x.wasm"])
        .output()?;
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("NAME=TYPE[/WEIGHT]:PATH"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    Ok(())
}
