//! ReplicaSets the controller cannot act on answer an error (the host backs off and
//! retries), never a guess: a selector that does not parse or that the API would refuse,
//! and a bad configuration.

use keel_sdk::controller::Reconciler;
use serde_json::json;

use super::*;

fn error_of(rs: &Value) -> String {
    match reconcile(&view(rs, &[orphan(pod("a"))]), rs) {
        Ok(result) => panic!("expected an error, got {:?}", result.actions),
        Err(error) => error.message,
    }
}

/// LabelSelectorAsSelector fails on an unknown operator.
#[test]
fn a_selector_that_does_not_parse_is_an_error() {
    let mut rs = replica_set(1);
    rs["spec"]["selector"] =
        json!({"matchExpressions": [{"key": "app", "operator": "Near", "values": ["web"]}]});
    assert!(error_of(&rs).contains("spec.selector"), "{}", error_of(&rs));
}

/// ValidateReplicaSetSpec: the selector is required and not empty (an empty one would
/// adopt every pod of the namespace).
#[test]
fn a_missing_or_empty_selector_is_an_error() {
    let mut rs = replica_set(1);
    rs["spec"]["selector"] = Value::Null;
    assert!(error_of(&rs).contains("required"));
    rs["spec"]["selector"] = json!({});
    assert!(error_of(&rs).contains("empty"));
}

/// ValidateReplicaSetSpec: the selector must match the template's labels (or every pod
/// created would be another pod not counted).
#[test]
fn a_template_the_selector_does_not_match_is_an_error() {
    let mut rs = replica_set(1);
    rs["spec"]["template"]["metadata"]["labels"] = json!({"app": "db"});
    assert!(error_of(&rs).contains("does not match"));
}

#[test]
fn a_replica_set_without_uid_is_an_error() {
    let mut rs = replica_set(1);
    rs["metadata"]["uid"] = Value::Null;
    assert!(error_of(&rs).contains("uid"));
}

#[test]
fn a_bad_configuration_is_an_error() {
    let error = crate::ReplicaSetController::new(r#"{"burstReplicas": "lots"}"#).err();
    assert!(error.is_some_and(|e| e.message.contains("bad configuration")));
}
