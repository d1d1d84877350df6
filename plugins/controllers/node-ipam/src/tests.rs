//! Blocks handed out in order, held blocks skipped (also when a node holds one of another
//! size), nodes that have one left alone, a full cluster CIDR and bad configuration refused.

use keel_sdk::controller::testing::FakeView;
use keel_sdk::controller::{Action, ObjectRef, Reconciler};
use serde_json::{Value, json};

use crate::NodeIpam;

fn ipam(config: &str) -> NodeIpam {
    match NodeIpam::new(config) {
        Ok(c) => c,
        Err(e) => panic!("configuration refused: {}", e.message),
    }
}

fn node(name: &str, cidr: Option<&str>) -> Value {
    let mut node = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "resourceVersion": "4"}, "spec": {}});
    if let Some(cidr) = cidr {
        node["spec"]["podCIDR"] = json!(cidr);
        node["spec"]["podCIDRs"] = json!([cidr]);
    }
    node
}

fn key(name: &str) -> ObjectRef {
    ObjectRef {
        group: String::new(),
        kind: "Node".into(),
        namespace: String::new(),
        name: name.into(),
    }
}

/// The pod CIDR the reconcile of `name` writes, if it writes one.
fn assigned(ipam: &NodeIpam, view: &FakeView, name: &str) -> Option<String> {
    let object = view.get_node(name);
    let result = match ipam.reconcile(view, &key(name), object) {
        Ok(r) => r,
        Err(e) => panic!("reconcile failed: {}", e.message),
    };
    match result.actions.as_slice() {
        [] => None,
        [Action::Update(text)] => {
            let written: Value = serde_json::from_str(text).unwrap_or_default();
            let cidr = written.pointer("/spec/podCIDR").cloned();
            assert_eq!(
                written.pointer("/spec/podCIDRs/0"),
                cidr.as_ref(),
                "podCIDRs[0] is podCIDR"
            );
            assert_eq!(
                written.pointer("/metadata/resourceVersion"),
                Some(&json!("4"))
            );
            cidr.and_then(|c| c.as_str().map(str::to_string))
        }
        other => panic!("unexpected actions {other:?}"),
    }
}

trait GetNode {
    fn get_node(&self, name: &str) -> Option<Value>;
}

impl GetNode for FakeView {
    fn get_node(&self, name: &str) -> Option<Value> {
        keel_sdk::controller::View::get(self, "", "Node", "", name)
    }
}

#[test]
fn blocks_are_handed_out_lowest_first_skipping_held_ones() {
    let ipam = ipam("null");
    let view = FakeView::new()
        .with("", "Node", node("a", Some("10.244.0.0/24")))
        .with("", "Node", node("b", Some("10.244.2.0/24")))
        .with("", "Node", node("c", None));
    assert_eq!(
        assigned(&ipam, &view, "c").as_deref(),
        Some("10.244.1.0/24")
    );
    // Once the first free one is held too, the next node gets the one after the held ones.
    let view = view
        .with("", "Node", node("c", Some("10.244.1.0/24")))
        .with("", "Node", node("d", None));
    assert_eq!(
        assigned(&ipam, &view, "d").as_deref(),
        Some("10.244.3.0/24")
    );
}

#[test]
fn a_node_with_a_pod_cidr_keeps_it() {
    let ipam = ipam("null");
    let view = FakeView::new().with("", "Node", node("a", Some("10.99.0.0/24")));
    assert_eq!(assigned(&ipam, &view, "a"), None);
}

#[test]
fn a_block_overlapping_a_larger_held_one_is_skipped() {
    let ipam = ipam(r#"{"clusterCidr": "10.1.0.0/16", "nodeCidrMaskSize": 26}"#);
    let view = FakeView::new()
        .with("", "Node", node("big", Some("10.1.0.0/25")))
        .with("", "Node", node("new", None));
    assert_eq!(
        assigned(&ipam, &view, "new").as_deref(),
        Some("10.1.0.128/26")
    );
}

#[test]
fn a_full_cluster_cidr_is_an_error_naming_it() {
    let ipam = ipam(r#"{"clusterCidr": "10.2.0.0/23", "nodeCidrMaskSize": 24}"#);
    let view = FakeView::new()
        .with("", "Node", node("a", Some("10.2.0.0/24")))
        .with("", "Node", node("b", Some("10.2.1.0/24")))
        .with("", "Node", node("c", None));
    let object = view.get_node("c");
    match ipam.reconcile(&view, &key("c"), object) {
        Ok(r) => panic!("expected an error, got {:?}", r.actions),
        Err(e) => assert!(e.message.contains("10.2.0.0/23"), "{}", e.message),
    }
}

#[test]
fn bad_configuration_is_refused() {
    for config in [
        r#"{"clusterCidr": "10.0.0.0"}"#,
        r#"{"clusterCidr": "fd00::/48"}"#,
        r#"{"clusterCidr": "10.0.0.0/16", "nodeCidrMaskSize": 8}"#,
        r#"{"clusterCidr": "10.0.0.0/16", "nodeCidrMaskSize": 31}"#,
    ] {
        assert!(NodeIpam::new(config).is_err(), "{config} accepted");
    }
}
