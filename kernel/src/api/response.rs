//! Building responses: JSON bodies, streamed bodies, and errors as
//! Kubernetes `Status` objects.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::registry::ApiError;

/// The body type every handler answers with.
pub type Body = BoxBody<Bytes, Infallible>;

/// A JSON response.
pub fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    bytes_response(code, "application/json", Bytes::from(bytes))
}

/// A response with a body of the given content type.
pub fn bytes_response(code: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(body).boxed());
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The `Status` object for an error.
pub fn status_object(err: &ApiError) -> Value {
    let mut details = serde_json::Map::new();
    match err {
        ApiError::NotFound { resource, name }
        | ApiError::AlreadyExists { resource, name }
        | ApiError::Conflict { resource, name, .. } => {
            let (kind, group) = resource.split_once('.').unwrap_or((resource.as_str(), ""));
            details.insert("name".into(), json!(name));
            details.insert("kind".into(), json!(kind));
            if !group.is_empty() {
                details.insert("group".into(), json!(group));
            }
        }
        ApiError::Invalid {
            kind,
            name,
            field,
            message,
        } => {
            details.insert("name".into(), json!(name));
            details.insert("kind".into(), json!(kind));
            details.insert(
                "causes".into(),
                json!([{"reason": "FieldValueInvalid", "message": message, "field": field}]),
            );
        }
        _ => {}
    }
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": err.to_string(),
        "reason": err.reason(),
        "code": err.code(),
    });
    if !details.is_empty() {
        status["details"] = serde_json::Value::Object(details);
    }
    status
}

/// An error answered as a `Status`. A 503 (no leader yet, a write whose fate is not
/// known) carries `Retry-After: 1`, which client-go honours by retrying.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let unavailable = code == StatusCode::SERVICE_UNAVAILABLE;
    let mut status = status_object(err);
    if unavailable {
        status["details"]["retryAfterSeconds"] = serde_json::json!(1);
    }
    let mut response = json_response(code, &status);
    if unavailable {
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_code_reason_and_details() {
        let s = status_object(&ApiError::NotFound {
            resource: "deployments.apps".into(),
            name: "web".into(),
        });
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(
            s["details"],
            json!({"name": "web", "kind": "deployments", "group": "apps"})
        );
        let s = status_object(&ApiError::Invalid {
            kind: "Pod".into(),
            name: "p".into(),
            field: "metadata.name".into(),
            message: "bad".into(),
        });
        assert_eq!(s["code"], 422);
        assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
    }
}
