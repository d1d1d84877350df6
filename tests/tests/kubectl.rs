//! The API through kubectl (the binary on the machine): apply, get (tables),
//! get -w, scale, delete.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keel_tests::{Server, stdout_ok};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    team: blue
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
"#;

fn start() -> Result<(tempfile::TempDir, Server)> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&dir.path().join("data"), &[])?;
    Ok((dir, server))
}

fn json_of(server: &Server, args: &[&str]) -> Result<serde_json::Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    Ok(serde_json::from_str(&stdout_ok(
        &server.kubectl(&all, None)?,
    )?)?)
}

#[test]
fn apply_get_scale_delete() -> Result<()> {
    let (_dir, server) = start()?;
    let out = stdout_ok(&server.kubectl(&["apply", "-f", "-"], Some(DEPLOYMENT))?)?;
    assert!(
        out.contains("deployment.apps/web created") && out.contains("configmap/settings created"),
        "{out}"
    );

    // Re-apply with a new image and without the `team` label: a three-way
    // strategic merge patch that changes the image and drops the label.
    let changed = DEPLOYMENT
        .replace("nginx:1.25", "nginx:1.26")
        .replace("    team: blue\n", "");
    let out = stdout_ok(&server.kubectl(&["apply", "-f", "-"], Some(&changed))?)?;
    assert!(
        out.contains("deployment.apps/web configured")
            && out.contains("configmap/settings unchanged"),
        "{out}"
    );
    let d = json_of(&server, &["get", "deployment", "web"])?;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    assert!(
        d["metadata"]["labels"].get("team").is_none(),
        "label removed: {}",
        d["metadata"]["labels"]
    );
    assert_eq!(d["metadata"]["generation"], 2);

    // Tables: the usual columns.
    let out = stdout_ok(&server.kubectl(&["get", "configmaps"], None)?)?;
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.split_whitespace().eq(["NAME", "DATA", "AGE"]),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("settings") && l.split_whitespace().nth(1) == Some("1")),
        "{out}"
    );
    let out = stdout_ok(&server.kubectl(&["get", "deployments"], None)?)?;
    assert!(
        out.lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .eq(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]),
        "{out}"
    );
    let out = stdout_ok(&server.kubectl(&["get", "namespaces"], None)?)?;
    assert!(
        out.contains("kube-system") && out.contains("Active"),
        "{out}"
    );

    // Scale through the scale subresource.
    let out = stdout_ok(&server.kubectl(&["scale", "deployment", "web", "--replicas=4"], None)?)?;
    assert!(out.contains("scaled"), "{out}");
    assert_eq!(
        json_of(&server, &["get", "deployment", "web"])?["spec"]["replicas"],
        4
    );

    // Delete, then get is a NotFound.
    let out = stdout_ok(&server.kubectl(&["delete", "configmap", "settings"], None)?)?;
    assert!(out.contains("deleted"), "{out}");
    let gone = server.kubectl(&["get", "configmap", "settings"], None)?;
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("NotFound"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
    let out =
        stdout_ok(&server.kubectl(&["delete", "--ignore-not-found", "-f", "-"], Some(&changed))?)?;
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let left = stdout_ok(&server.kubectl(&["get", "deployments", "-o", "name"], None)?)?;
    assert!(left.trim().is_empty(), "{left}");
    Ok(())
}

#[test]
fn get_watch_streams_changes() -> Result<()> {
    let (_dir, server) = start()?;
    let mut watch = Command::new("kubectl")
        .env("KUBECONFIG", server.kubeconfig()?)
        .args(["get", "configmaps", "-w", "--request-timeout=0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = watch.stdout.take().context("kubectl stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Give the watch a moment to start, then make changes.
    std::thread::sleep(Duration::from_millis(500));
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\ndata:\n  a: \"1\"\n";
    stdout_ok(&server.kubectl(&["apply", "-f", "-"], Some(cm))?)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let found = loop {
        if Instant::now() > deadline {
            break false;
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let hit = line.starts_with("watched");
                seen.push(line);
                if hit {
                    break true;
                }
            }
            Err(_) => continue,
        }
    };
    let _ = watch.kill();
    let _ = watch.wait();
    if !found {
        bail!("kubectl get -w never printed the new configmap; it printed {seen:?}");
    }
    Ok(())
}
