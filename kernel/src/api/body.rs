//! Reading request bodies: a size cap, and JSON or YAML into a value.

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use crate::registry::ApiError;

/// The largest body the API takes (as Kubernetes: 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Reads the whole body, refusing more than [`MAX_BODY`] bytes.
pub async fn read(body: Incoming) -> Result<bytes::Bytes, ApiError> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::TooLarge(format!(
                "the request body is larger than the {MAX_BODY}-byte limit"
            )))
        }
        Err(e) => Err(ApiError::BadRequest(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// Decodes a body as JSON, or YAML when the content type says so.
pub fn decode(content_type: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the request body is empty".into()));
    }
    let ct = content_type.split(';').next().unwrap_or("").trim();
    if ct == "application/yaml" || ct == "application/apply-patch+yaml" {
        return serde_yaml_ng::from_slice(bytes)
            .map_err(|e| ApiError::BadRequest(format!("the body is not valid YAML: {e}")));
    }
    if ct == "application/vnd.kubernetes.protobuf" {
        return Err(ApiError::UnsupportedMediaType(
            "protobuf bodies are not supported; send JSON or YAML (for kubectl's typed \
             `create` commands: kubectl create ... --dry-run=client -o yaml | kubectl apply -f -)"
                .into(),
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_json_and_yaml() {
        assert_eq!(
            decode("application/json", br#"{"a":1}"#).ok(),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            decode("application/yaml", b"a: 1\n").ok(),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            decode("application/json", b"{nope").err().map(|e| e.code()),
            Some(400)
        );
        assert_eq!(
            decode("application/json", b"  ").err().map(|e| e.code()),
            Some(400)
        );
    }
}
