//! `kubectl exec` and kube-rs `exec` into runc containers, through the API server to the
//! node agent (a WebSocket of the `channel.k8s.io` protocol, as the kubelet serves it):
//!
//! - kubectl: a command's stdout and stderr apart and its exit code as kubectl's own;
//!   stdin passed through to its end of file (`-i`); a container that is not the pod's,
//!   and a WASI container (which cannot run commands), refused with a message that says so.
//! - kube-rs: a shell on a terminal, resized by the client, answering `stty size` with the
//!   size set, and its exit code in the `Status`.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::SinkExt;
use k8s_openapi::api::core::v1::Pod;
use keel_tests::agent::{WORKLOAD_IMAGE, eventually, import_workload, pod, pod_json};
use keel_tests::runc_cluster::{runc_pod, start};
use kube::api::{Api, AttachParams, PostParams, TerminalSize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A runc pod that sleeps, for commands to run in.
fn shell() -> Result<Pod> {
    let mut shell = runc_pod("shell", json!({"command": ["sleep", "3600"]}))?;
    if let Some(spec) = shell.spec.as_mut() {
        // sleep as PID 1 ignores SIGTERM: killed one second into its grace period.
        spec.termination_grace_period_seconds = Some(1);
    }
    Ok(shell)
}

/// Creates a long-running pod and waits until it runs.
async fn running(pods: &Api<Pod>, pod: Pod) -> Result<()> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    pods.create(&PostParams::default(), &pod).await?;
    eventually(
        Duration::from_secs(60),
        &format!("pod {name} running"),
        || async { Ok(pod_json(&pods.get(&name).await?)) },
        |pod| pod["status"]["containerStatuses"][0]["state"]["running"].is_object(),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_runs_commands_in_runc_containers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (server, agent, client, _cidr) = start(dir.path()).await?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    running(&pods, shell()?).await?;

    // Output apart, and the exit code.
    let out = server.kubectl(
        &[
            "exec",
            "shell",
            "--",
            "sh",
            "-c",
            "echo to stdout; echo to stderr >&2; exit 3",
        ],
        None,
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout {stdout:?} stderr {stderr:?}"
    );
    assert_eq!(stdout, "to stdout\n");
    assert!(stderr.starts_with("to stderr\n"), "{stderr:?}");

    // A command that succeeds, in the container's own file system and namespaces.
    let out = server.kubectl(&["exec", "shell", "--", "cat", "/proc/1/cmdline"], None)?;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sleep\x003600\x00");

    // stdin to its end.
    let input = "line one\nline two\n";
    let out = server.kubectl(&["exec", "-i", "shell", "--", "cat"], Some(input))?;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), input);
    let out = server.kubectl(&["exec", "-i", "shell", "--", "wc", "-c"], Some(input))?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        input.len().to_string()
    );

    // Refusals.
    let out = server.kubectl(&["exec", "shell", "-c", "nope", "--", "true"], None)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("container nope is not valid for pod shell"),
        "{stderr}"
    );
    import_workload(&agent.data_dir)?;
    running(
        &pods,
        pod(
            "wasi",
            json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "app",
                "image": WORKLOAD_IMAGE, "args": ["sleep", "600000"]}]}),
        )?,
    )
    .await?;
    let out = server.kubectl(&["exec", "wasi", "--", "true"], None)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot run commands in it"), "{stderr}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_session_is_resized_and_ends_with_its_exit_code() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (_server, _agent, client, _cidr) = start(dir.path()).await?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    running(&pods, shell()?).await?;

    let mut session = tokio::time::timeout(
        Duration::from_secs(20),
        pods.exec("shell", ["sh"], &AttachParams::interactive_tty()),
    )
    .await
    .context("exec did not connect")??;
    let mut stdin = session.stdin().context("stdin")?;
    let mut stdout = session.stdout().context("stdout")?;
    let mut status = Box::pin(session.take_status().context("status")?);
    let mut resize = session.terminal_size().context("terminal size")?;
    resize
        .send(TerminalSize {
            width: 100,
            height: 33,
        })
        .await?;

    // The size reaches the container's terminal through runc's SIGWINCH; ask until it
    // has.
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains("33 100") {
        if tokio::time::Instant::now() > deadline {
            bail!("the terminal never said 33 rows and 100 columns: {seen:?}");
        }
        if tokio::time::timeout(Duration::from_secs(5), stdin.write_all(b"stty size\n"))
            .await
            .is_err()
        {
            let ended = tokio::time::timeout(Duration::from_secs(1), &mut status).await;
            bail!("the session takes no input; it ended with {ended:?}, after {seen:?}");
        }
        let mut buffer = [0u8; 4096];
        if let Ok(read) =
            tokio::time::timeout(Duration::from_millis(500), stdout.read(&mut buffer)).await
        {
            seen.push_str(&String::from_utf8_lossy(&buffer[..read?]));
        }
    }
    // A terminal: the shell echoes what it is sent, and it runs as the container's.
    assert!(seen.contains("stty size"), "{seen:?}");
    stdin.write_all(b"exit 7\n").await?;
    let status = tokio::time::timeout(Duration::from_secs(20), status)
        .await?
        .context("no status")?;
    assert_eq!(
        status.reason.as_deref(),
        Some("NonZeroExitCode"),
        "{status:?}"
    );
    let code = status
        .details
        .and_then(|d| d.causes)
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message);
    assert_eq!(code.as_deref(), Some("7"));
    Ok(())
}
