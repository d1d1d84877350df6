//! OpenAPI v3 documents, as far as clients need them: each kind's paths with
//! its verbs and its group-version-kind, and the query parameters the server
//! honours (kubectl reads `fieldValidation` support from here). Schemas are
//! open (`x-kubernetes-preserve-unknown-fields`): the kernel stores kinds
//! generically and leaves schema validation to admission plugins.

use serde_json::{Map, Value, json};

use crate::object::{Registry, ResourceType};

fn gvk(rt: &ResourceType) -> Value {
    json!({"group": rt.group, "version": rt.version, "kind": rt.kind})
}

fn schema_name(rt: &ResourceType) -> String {
    let group = if rt.group.is_empty() {
        "core"
    } else {
        rt.group
    };
    format!("{group}.{}.{}", rt.version, rt.kind)
}

fn operation(rt: &ResourceType, verb: &str, body_types: &[&str]) -> Value {
    let schema = json!({"$ref": format!("#/components/schemas/{}", schema_name(rt))});
    let mut op = json!({
        "operationId": format!("{verb}{}", rt.kind),
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": gvk(rt),
        "parameters": [
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        ],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}},
    });
    if !body_types.is_empty() {
        let content: Map<String, Value> = body_types
            .iter()
            .map(|t| ((*t).to_string(), json!({"schema": {"type": "object"}})))
            .collect();
        op["requestBody"] = json!({"content": content, "required": true});
    }
    op
}

/// `/openapi/v3`: the index of group-version documents.
pub fn index(kinds: &Registry) -> Value {
    let mut paths = Map::new();
    for group in kinds.groups() {
        for version in kinds.versions(group) {
            let path = if group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{group}/{version}")
            };
            let url = format!("/openapi/v3/{path}?hash={}", env!("CARGO_PKG_VERSION"));
            paths.insert(path, json!({"serverRelativeURL": url}));
        }
    }
    json!({"paths": paths})
}

/// The document for one group version, if served.
pub fn group_version(kinds: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for rt in kinds.in_group_version(group, version) {
        let base = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let scope = if rt.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let collection = format!("{base}{scope}/{}", rt.plural);
        // Strategic merge patch is computed by kubectl from its built-in types.
        let patch_types = [
            "application/merge-patch+json",
            "application/json-patch+json",
        ];
        paths.insert(
            collection.clone(),
            json!({"get": operation(rt, "list", &[]), "post": operation(rt, "post", &["application/json"]),
                   "delete": operation(rt, "deletecollection", &[])}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": operation(rt, "get", &[]), "put": operation(rt, "put", &["application/json"]),
                   "patch": operation(rt, "patch", &patch_types), "delete": operation(rt, "delete", &[])}),
        );
        schemas.insert(
            schema_name(rt),
            json!({"type": "object", "x-kubernetes-group-version-kind": [gvk(rt)],
                   "x-kubernetes-preserve-unknown-fields": true}),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Keel", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}
