//! A watcher over one collection of a remote server, through its HTTP API: a list, then a
//! watch from the list's `resourceVersion`, reopened where it stopped when the stream ends,
//! and a relist when the server answers 410 Gone. It reports the same [`WatchEvent`]s as
//! the in-process [`super::Watcher`], so what consumes one can consume the other.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use serde_json::Value;

use super::WatchEvent;
use super::http::{ApiClient, HttpError};

/// The pause before trying again after the server could not be reached.
const RETRY: Duration = Duration::from_millis(500);

enum State {
    Listing,
    Following(String),
}

/// Follows one collection (`/api/v1/pods`, narrowed by `query`: selectors).
pub struct RemoteWatcher {
    client: Arc<ApiClient>,
    path: String,
    query: String,
    state: State,
    stream: Option<Lines>,
}

impl RemoteWatcher {
    /// A watcher over the collection at `path`; `query` (`fieldSelector=...`, URL-encoded,
    /// or empty) narrows both the list and the watch. Its first event is `Restarted`.
    pub fn new(client: Arc<ApiClient>, path: &str, query: &str) -> RemoteWatcher {
        RemoteWatcher {
            client,
            path: path.to_string(),
            query: query.to_string(),
            state: State::Listing,
            stream: None,
        }
    }

    /// The next event. Failures to reach the server are retried after a pause: the watcher
    /// never ends.
    pub async fn next(&mut self) -> WatchEvent {
        loop {
            match &self.state {
                State::Listing => match self.list().await {
                    Ok((revision, items)) => {
                        self.state = State::Following(revision);
                        return WatchEvent::Restarted(items.into_iter().map(Arc::new).collect());
                    }
                    Err(error) => {
                        tracing::warn!(path = %self.path, "cannot list: {error}; retrying");
                        tokio::time::sleep(RETRY).await;
                    }
                },
                State::Following(revision) => {
                    let revision = revision.clone();
                    if let Some(event) = self.follow(&revision).await {
                        return event;
                    }
                }
            }
        }
    }

    async fn list(&self) -> Result<(String, Vec<Value>), HttpError> {
        let separator = if self.query.is_empty() { "" } else { "?" };
        let list = self
            .client
            .get(&format!("{}{separator}{}", self.path, self.query))
            .await?;
        let revision = list
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("0")
            .to_string();
        let items = match list.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        Ok((revision, items))
    }

    /// One event from the open stream (opening one from `revision` if none is), or `None`
    /// when the stream ended or failed and the state says what to do next.
    async fn follow(&mut self, revision: &str) -> Option<WatchEvent> {
        if self.stream.is_none() {
            let path = format!(
                "{}?watch=true&allowWatchBookmarks=true&resourceVersion={revision}{}{}",
                self.path,
                if self.query.is_empty() { "" } else { "&" },
                self.query
            );
            match self.client.stream(&path).await {
                Ok(body) => self.stream = Some(Lines::new(body)),
                Err(HttpError::Status { code: 410, .. }) => {
                    self.state = State::Listing;
                    return None;
                }
                Err(error) => {
                    tracing::warn!(path = %self.path, "cannot watch: {error}; retrying");
                    tokio::time::sleep(RETRY).await;
                    return None;
                }
            }
        }
        let stream = self.stream.as_mut()?;
        let Some(line) = stream.next().await else {
            self.stream = None;
            return None;
        };
        let event: Value = match serde_json::from_slice(&line) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(path = %self.path, "unreadable watch event: {error}; reopening");
                self.stream = None;
                return None;
            }
        };
        self.event(event)
    }

    fn event(&mut self, mut event: Value) -> Option<WatchEvent> {
        let object = event.get_mut("object").map(Value::take)?;
        let revision = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        if kind == "ERROR" {
            // 410 Gone (the history moved on) or anything else: start over from a list.
            self.stream = None;
            self.state = State::Listing;
            return None;
        }
        if let Some(revision) = &revision {
            self.state = State::Following(revision.clone());
        }
        match kind {
            "ADDED" | "MODIFIED" => Some(WatchEvent::Applied(Arc::new(object))),
            "DELETED" => Some(WatchEvent::Deleted(Arc::new(object))),
            "BOOKMARK" => Some(WatchEvent::Bookmark(
                revision.and_then(|r| r.parse().ok()).unwrap_or(0),
            )),
            _ => None,
        }
    }
}

/// Newline-delimited records from a streamed body.
struct Lines {
    body: hyper::body::Incoming,
    buffer: BytesMut,
}

impl Lines {
    fn new(body: hyper::body::Incoming) -> Lines {
        Lines {
            body,
            buffer: BytesMut::new(),
        }
    }

    /// The next non-empty line, or `None` when the body ended or broke.
    async fn next(&mut self) -> Option<BytesMut> {
        loop {
            if let Some(at) = self.buffer.iter().position(|b| *b == b'\n') {
                let mut line = self.buffer.split_to(at + 1);
                line.truncate(at);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(line);
            }
            let frame = self.body.frame().await?.ok()?;
            if let Ok(mut data) = frame.into_data() {
                while data.has_remaining() {
                    let chunk = data.chunk();
                    self.buffer.extend_from_slice(chunk);
                    let n = chunk.len();
                    data.advance(n);
                }
            }
        }
    }
}
