//! The example plugin of every type, and the Python one, loaded and called.

use std::collections::HashMap;
use std::sync::Arc;

use keel::plugin::EmptyView;
use keel::plugin::calls::{
    Action, Candidates, FixedNodes, FixedTable, Node, NodeNetwork, NodeUsage, ObjectRef, Pod,
    PodRef, Resources,
};
use keel::plugin::{CacheView, CallErrorKind, Limits, PluginHost, PluginType, Tables};
use keel_plugin_artifacts as artifacts;
use serde_json::json;

use super::{load, pod, request};

fn image_policy_allows_and_denies(path: &str) {
    let host = PluginHost::new(None);
    let config = json!({"allowedPrefixes": ["registry.example/"]});
    let plugin = load(
        &host,
        "image-policy",
        PluginType::Admission,
        path,
        config,
        Limits::default(),
    );
    let steps = plugin.admission_steps();
    assert_eq!(
        (steps.mutates, steps.validates),
        (false, true),
        "{path}: the image policy describes itself as validating only"
    );

    let allowed = plugin.validate(
        EmptyView::shared(),
        &request("Pod", "ok", Some(pod(&["registry.example/web:1"]))),
    );
    assert!(
        matches!(allowed, Ok(v) if v.denied.is_none()),
        "{path}: registry.example/web:1 was denied"
    );

    let denied = plugin.validate(
        EmptyView::shared(),
        &request(
            "Pod",
            "bad",
            Some(pod(&["registry.example/web:1", "evil.io/x"])),
        ),
    );
    let denial = denied
        .ok()
        .and_then(|v| v.denied)
        .unwrap_or_else(|| panic!("{path}: evil.io/x was not denied"));
    assert_eq!((denial.code, denial.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        denial.message,
        r#"container "c1" uses image "evil.io/x": not under an allowed prefix (registry.example/)"#
    );

    let not_a_pod = plugin.validate(
        EmptyView::shared(),
        &request("ConfigMap", "cm", Some(json!({"data": {}}))),
    );
    assert!(
        matches!(not_a_pod, Ok(v) if v.denied.is_none()),
        "{path}: a ConfigMap was denied"
    );
    let mutation = plugin
        .mutate(
            EmptyView::shared(),
            &request("Pod", "ok", Some(pod(&["evil.io/x"]))),
        )
        .map_err(|e| e.to_string());
    assert_eq!(mutation.map(|m| m.patch), Ok(None));
}

#[test]
fn rust_image_policy_allows_and_denies() {
    image_policy_allows_and_denies(artifacts::IMAGE_POLICY);
}

#[test]
fn python_image_policy_answers_like_the_rust_one() {
    image_policy_allows_and_denies(artifacts::IMAGE_POLICY_PY);
}

#[test]
fn a_bad_configuration_is_a_plugin_error() {
    let host = PluginHost::new(None);
    for path in [artifacts::IMAGE_POLICY, artifacts::IMAGE_POLICY_PY] {
        let plugin = load(
            &host,
            "image-policy",
            PluginType::Admission,
            path,
            json!({"allowedPrefixes": 7}),
            Limits::default(),
        );
        let result = plugin.validate(EmptyView::shared(), &request("Pod", "p", Some(pod(&["x"]))));
        assert!(
            matches!(result, Err(ref e) if matches!(e.kind, CallErrorKind::Plugin(_))),
            "{path}: {result:?}"
        );
    }
}

fn node(index: u32, milli_cpu: u64, memory: u64, pods: u64) -> Node {
    Node {
        index,
        name: format!("node-{index}"),
        labels: vec![],
        taints: vec![],
        unschedulable: false,
        allocatable: Resources {
            milli_cpu,
            memory,
            pods,
            extended: vec![],
        },
    }
}

#[test]
fn node_resources_filters_and_scores_a_batch() {
    let host = PluginHost::new(None);
    let plugin = load(
        &host,
        "node-resources",
        PluginType::Scheduler,
        artifacts::NODE_RESOURCES,
        json!(null),
        Limits::default(),
    );
    let nodes = FixedNodes::new(vec![
        node(0, 4000, 8 << 30, 110),
        node(1, 1000, 8 << 30, 110),
        node(2, 4000, 1 << 30, 110),
        node(3, 4000, 8 << 30, 1),
    ]);
    let pod = Pod {
        namespace: "default".into(),
        name: "p".into(),
        labels: vec![],
        node_name: None,
        node_selector: vec![],
        tolerations: vec![],
        requests: Resources {
            milli_cpu: 2000,
            memory: 2 << 30,
            pods: 1,
            extended: vec![],
        },
        affinity_json: None,
        topology_spread_json: None,
    };
    let candidates = Candidates {
        index: vec![0, 1, 2, 3],
    };
    // Node 3 has its one pod slot taken; the others have nothing allocated (no row).
    let usage = FixedTable::new(vec![NodeUsage {
        node: 3,
        used: Resources {
            milli_cpu: 0,
            memory: 0,
            pods: 1,
            extended: vec![],
        },
    }]);
    let tables = |nodes| Tables {
        nodes,
        usage: Some(&usage),
        pods: None,
    };
    let filtered = plugin
        .filter(tables(&nodes), &pod, &candidates)
        .unwrap_or_else(|e| panic!("{e}"));
    let reasons: Vec<Vec<String>> = filtered
        .codes
        .iter()
        .map(|&c| {
            if c == 0 {
                vec![]
            } else {
                filtered.reasons[c as usize - 1].clone()
            }
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            vec![],
            vec!["Insufficient cpu".to_string()],
            vec!["Insufficient memory".to_string()],
            vec!["Too many pods".to_string()]
        ]
    );

    let scores = plugin
        .score(tables(&nodes), &pod, &candidates)
        .unwrap_or_else(|e| panic!("{e}"));
    // LeastAllocated: node 0 keeps (4000-2000)/4000 cpu and (8-2)/8 memory free: (50 + 75) / 2.
    assert_eq!(scores[0], 62);
    assert_eq!(scores[1], 37, "cpu over capacity scores 0; memory 75");

    // Another table (node 1 now has room): the warm instance is synced again before the call.
    let grown = FixedNodes::new(vec![
        node(0, 4000, 8 << 30, 110),
        node(1, 4000, 8 << 30, 110),
        node(2, 4000, 1 << 30, 110),
        node(3, 4000, 8 << 30, 1),
    ]);
    let refiltered = plugin
        .filter(tables(&grown), &pod, &candidates)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refiltered.codes[..2],
        [0, 0],
        "node 1 fits once the table says it has 4 cpus"
    );
}

struct OneConfigMap(Option<String>);

impl CacheView for OneConfigMap {
    fn get(&self, key: &ObjectRef) -> Option<String> {
        (key.kind == "ConfigMap" && key.name == "kube-root-ca.crt")
            .then(|| self.0.clone())
            .flatten()
    }
    fn list(&self, _: &str, _: &str, _: &str, _: &str) -> Vec<String> {
        vec![]
    }
}

#[test]
fn root_ca_publisher_reads_the_cache_and_answers_with_actions() {
    let host = PluginHost::new(None);
    let plugin = load(
        &host,
        "root-ca",
        PluginType::Controller,
        artifacts::ROOT_CA_PUBLISHER,
        json!({"caCert": "CERT"}),
        Limits::default(),
    );
    let key = ObjectRef {
        group: String::new(),
        kind: "Namespace".into(),
        namespace: String::new(),
        name: "team-a".into(),
    };
    let namespace = json!({"metadata": {"name": "team-a"}}).to_string();

    let create = plugin
        .reconcile(Arc::new(OneConfigMap(None)), &key, Some(&namespace))
        .unwrap_or_else(|e| panic!("{e}"));
    let [Action::Create(object)] = create.actions.as_slice() else {
        panic!("{:?}", create.actions)
    };
    let object: serde_json::Value = serde_json::from_str(object).unwrap_or_default();
    assert_eq!(
        object.pointer("/metadata/namespace"),
        Some(&json!("team-a"))
    );
    assert_eq!(object.pointer("/data/ca.crt"), Some(&json!("CERT")));

    let current = json!({"metadata": {"name": "kube-root-ca.crt", "namespace": "team-a", "resourceVersion": "7"}, "data": {"ca.crt": "CERT"}});
    let same = plugin.reconcile(
        Arc::new(OneConfigMap(Some(current.to_string()))),
        &key,
        Some(&namespace),
    );
    assert_eq!(
        same.map(|r| r.actions.len()).map_err(|e| e.to_string()),
        Ok(0)
    );

    let stale = json!({"metadata": {"name": "kube-root-ca.crt", "namespace": "team-a", "resourceVersion": "7"}, "data": {"ca.crt": "OLD"}});
    let update = plugin
        .reconcile(
            Arc::new(OneConfigMap(Some(stale.to_string()))),
            &key,
            Some(&namespace),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let [Action::Update(object)] = update.actions.as_slice() else {
        panic!("{:?}", update.actions)
    };
    assert!(
        object.contains("\"resourceVersion\":\"7\"") && object.contains("CERT"),
        "{object}"
    );

    let gone = plugin.reconcile(Arc::new(OneConfigMap(None)), &key, None);
    assert_eq!(
        gone.map(|r| r.actions.len()).map_err(|e| e.to_string()),
        Ok(0)
    );
}

#[test]
fn host_local_allocates_the_lowest_free_address() {
    let host = PluginHost::new(None);
    let plugin = load(
        &host,
        "host-local",
        PluginType::Network,
        artifacts::HOST_LOCAL,
        json!(null),
        Limits::default(),
    );
    let node = NodeNetwork {
        node_name: "n1".into(),
        pod_cidr: "10.244.1.0/24".into(),
    };
    let pod = PodRef {
        namespace: "default".into(),
        name: "p".into(),
        uid: "u".into(),
    };
    let mut in_use: Vec<String> = vec![];
    let mut seen = HashMap::new();
    for _ in 0..3 {
        let address = plugin
            .allocate(&node, &pod, &in_use)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (address.prefix_length, address.gateway.as_str()),
            (24, "10.244.1.1")
        );
        assert!(seen.insert(address.address.clone(), ()).is_none());
        in_use.push(address.address);
    }
    assert_eq!(in_use, ["10.244.1.2", "10.244.1.3", "10.244.1.4"]);
    in_use.remove(0);
    let reused = plugin
        .allocate(&node, &pod, &in_use)
        .map(|a| a.address)
        .map_err(|e| e.to_string());
    assert_eq!(
        reused.as_deref(),
        Ok("10.244.1.2"),
        "a released address is free again"
    );

    let full = NodeNetwork {
        node_name: "n1".into(),
        pod_cidr: "10.244.1.0/30".into(),
    };
    let exhausted = plugin.allocate(&full, &pod, &["10.244.1.2".to_string()]);
    assert!(
        matches!(exhausted, Err(ref e) if matches!(&e.kind, CallErrorKind::Plugin(m) if m.contains("no free address"))),
        "{exhausted:?}"
    );
}
