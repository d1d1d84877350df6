//! A one-node cluster offering OCI containers: a server with its scheduler, the default
//! controllers (node IPAM handing out a cluster CIDR of the test's own) and the host-local
//! network plugin, one agent offering `runc`, the `runc` RuntimeClass and the busybox
//! image; and busybox pods for it.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use serde_json::{Value, json};

use crate::agent::{Agent, eventually, pod, pod_json};
use crate::busybox::{self, BUSYBOX_IMAGE};
use crate::controllers::controller_flags;
use crate::pod_network::ClusterCidr;
use crate::{Server, stdout_ok};

/// A server with its scheduler, the default controllers (node IPAM handing out a cluster
/// CIDR of this test's own) and the host-local network plugin; one agent offering `runc`,
/// and the `runc` RuntimeClass.
pub async fn start(dir: &Path) -> Result<(Server, Agent, kube::Client, ClusterCidr)> {
    let cidr = ClusterCidr::claim()?;
    let mut flags = controller_flags(&[("node-ipam", cidr.node_ipam_spec(dir)?)]);
    flags.extend([
        "--plugin".to_string(),
        format!("host-local=network:{}", keel_plugin_artifacts::HOST_LOCAL),
    ]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_scheduling(&dir.join("server"), &flags)?;
    busybox::import(&dir.join("agent"))?;
    let agent = Agent::start(
        &server.url(),
        &dir.join("agent"),
        "node-r",
        &["--cpu", "4", "--memory", "4Gi", "--crash-backoff-ms", "500"],
    )?;
    stdout_ok(&server.kubectl(
        &["apply", "-f", "-"],
        Some("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: runc}\nhandler: runc\n"),
    )?)?;
    let client = server.client()?;
    let nodes: Api<Node> = Api::all(client.clone());
    eventually(
        Duration::from_secs(30),
        "the node offering runc",
        || async { Ok(serde_json::to_value(nodes.get("node-r").await?)?) },
        |node| {
            node["status"]["runtimeHandlers"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["name"] == "runc"))
        },
    )
    .await?;
    Ok((server, agent, client, cidr))
}

/// A busybox pod on runc that runs once.
pub fn runc_pod(name: &str, container: Value) -> Result<Pod> {
    let mut container = container;
    container["name"] = json!("main");
    container["image"] = json!(BUSYBOX_IMAGE);
    pod(
        name,
        json!({"runtimeClassName": "runc", "restartPolicy": "Never", "containers": [container]}),
    )
}

/// Waits for the pod's only container to terminate and returns the pod.
pub async fn terminated(pods: &Api<Pod>, name: &str) -> Result<Value> {
    eventually(
        Duration::from_secs(60),
        &format!("pod {name} terminating"),
        || async { Ok(pod_json(&pods.get(name).await?)) },
        |pod| pod["status"]["containerStatuses"][0]["state"]["terminated"].is_object(),
    )
    .await
}
