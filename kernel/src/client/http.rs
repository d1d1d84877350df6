//! A small JSON client for Keel's HTTP API, for the `keel` command's own subcommands
//! (`keel plugin ...`) and the node agent. Errors carry the server's `Status` message and
//! reason.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// An API request that failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server could not be reached or the exchange broke.
    #[error("cannot reach {server}: {message}")]
    Unreachable {
        /// The server's URL.
        server: String,
        /// What failed.
        message: String,
    },
    /// The server answered with an error `Status`.
    #[error("{message} ({code} {reason})")]
    Status {
        /// The HTTP status code.
        code: u16,
        /// The Status reason (`NotFound`, `AlreadyExists`, ...).
        reason: String,
        /// The Status message.
        message: String,
    },
}

impl HttpError {
    /// The Status reason, if the server answered.
    pub fn reason(&self) -> Option<&str> {
        match self {
            HttpError::Status { reason, .. } => Some(reason),
            HttpError::Unreachable { .. } => None,
        }
    }
}

/// A client for one server.
pub struct ApiClient {
    server: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    /// A client for `server` (`http://127.0.0.1:6443`).
    pub fn new(server: &str) -> ApiClient {
        ApiClient {
            server: server.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Result<Value, HttpError> {
        self.send(Method::GET, path, None, "application/json").await
    }

    /// POST `body` to `path`.
    pub async fn create(&self, path: &str, body: &Value) -> Result<Value, HttpError> {
        self.send(Method::POST, path, Some(body), "application/json")
            .await
    }

    /// PUT `body` at `path`.
    pub async fn replace(&self, path: &str, body: &Value) -> Result<Value, HttpError> {
        self.send(Method::PUT, path, Some(body), "application/json")
            .await
    }

    /// PATCH `path` with a JSON merge patch.
    pub async fn merge_patch(&self, path: &str, body: &Value) -> Result<Value, HttpError> {
        self.send(
            Method::PATCH,
            path,
            Some(body),
            "application/merge-patch+json",
        )
        .await
    }

    /// DELETE `path` with `options` (a `DeleteOptions` body).
    pub async fn delete(&self, path: &str, options: &Value) -> Result<Value, HttpError> {
        self.send(Method::DELETE, path, Some(options), "application/json")
            .await
    }

    /// GET `path` and hand over the response body as it arrives (a watch stream, a log
    /// that is followed), once the server answered with success.
    pub async fn stream(&self, path: &str) -> Result<hyper::body::Incoming, HttpError> {
        let response = self
            .exchange(Method::GET, path, None, "application/json")
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response.into_body());
        }
        let body = self.read_body(response).await?;
        Err(status_error(status, &body))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<Value, HttpError> {
        let response = self.exchange(method, path, body, content_type).await?;
        let status = response.status();
        let body = self.read_body(response).await?;
        if status.is_success() {
            return Ok(serde_json::from_slice(&body).unwrap_or(Value::Null));
        }
        Err(status_error(status, &body))
    }

    /// Sends one request; the response, its body not read yet.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<http::Response<hyper::body::Incoming>, HttpError> {
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server))
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(Full::new(bytes))
            .map_err(|e| self.unreachable(e.to_string()))?;
        self.client
            .request(request)
            .await
            .map_err(|e| self.unreachable(format!("{e:#}")))
    }

    async fn read_body(
        &self,
        response: http::Response<hyper::body::Incoming>,
    ) -> Result<Bytes, HttpError> {
        Ok(response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.unreachable(e.to_string()))?
            .to_bytes())
    }

    fn unreachable(&self, message: String) -> HttpError {
        HttpError::Unreachable {
            server: self.server.clone(),
            message,
        }
    }
}

/// The error an unsuccessful answer stands for: its `Status` reason and message, or the
/// HTTP status and the body as text.
fn status_error(status: StatusCode, body: &[u8]) -> HttpError {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |field: &str| value.get(field).and_then(Value::as_str).map(str::to_string);
    HttpError::Status {
        code: status.as_u16(),
        reason: text("reason").unwrap_or_else(|| StatusCode::as_str(&status).to_string()),
        message: text("message").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    }
}
